"""Checkpoints: parameters and optimiser state in one safetensors file, written atomically.

A checkpoint holds every array leaf of ``{"params": ..., "opt": ...}`` under its pytree path, and
a JSON string in the safetensors metadata (step counter, sequences seen, wall time) with a
SHA-256 checksum of the tensors (names, dtypes, shapes and bytes), checked on loading: damage to
the data is a corrupt checkpoint, not a silently different model.  Loading needs a template
pytree of the same structure (built from the run's config), so nothing is ever executed from the
file: no pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

__all__ = ["save", "load", "read_meta", "checksum", "atomic_write_text", "CheckpointError"]

CHECKSUM_KEY = "sha256"


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not match the run's configuration."""


def _named_leaves(tree: Any) -> list[tuple[str, Any]]:
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [(jax.tree_util.keystr(path), leaf) for path, leaf in leaves]


def checksum(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of named arrays, in name order: each name, dtype, shape and the bytes (C order)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.array(arrays[name], order="C")
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename, so readers never see half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save(path: str | Path, tree: Any, meta: dict[str, Any]) -> str:
    """Save every array leaf of ``tree`` and the JSON-able ``meta`` to ``path`` atomically.

    The file is first written beside its final name and then renamed over it, so a process killed
    mid-save leaves the previous checkpoint intact.  Returns the tensors' checksum, which is
    stored in the metadata too (``"sha256"``).
    """
    path = Path(path)
    arrays = {}
    for name, leaf in _named_leaves(tree):
        arrays[name] = np.array(leaf, order="C")  # keeps 0-d arrays 0-d (ascontiguousarray would not)
    digest = checksum(arrays)
    tmp = path.with_name(path.name + ".tmp")
    save_file(arrays, str(tmp), metadata={"meta": json.dumps({**meta, CHECKSUM_KEY: digest})})
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return digest


def read_meta(path: str | Path) -> dict[str, Any]:
    """A checkpoint's metadata alone, from its header (the tensors are not read).

    Raises:
        CheckpointError: the file is missing or its header is corrupt.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            header_len = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(header_len))
        meta = json.loads(header.get("__metadata__", {}).get("meta", "{}"))
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}") from None
    except (OSError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"corrupt checkpoint {path}: {exc}") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"corrupt checkpoint {path}: its metadata is not a JSON object")
    return meta


def load(path: str | Path, template: Any, *, strict: bool = True) -> tuple[Any, dict[str, Any]]:
    """Load a checkpoint into the structure of ``template``.

    Returns:
        ``(tree, meta)``: ``template`` with every array leaf replaced by the stored one; ``meta``
        includes the checksum under ``"sha256"`` (for checkpoints that have one).

    Raises:
        CheckpointError: the file is missing or corrupt (its tensors do not match their
            checksum, say), or its arrays do not match the template (names or shapes): the
            checkpoint comes from an incompatible configuration.  With ``strict=False`` the file
            may hold more arrays than the template names (the optimiser state beside the
            parameters, say).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    meta = read_meta(path)
    try:
        stored = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"corrupt checkpoint {path}: {exc}") from None
    # Checkpoints written before checksums were stored have none; every newer one is checked.
    if CHECKSUM_KEY in meta and meta[CHECKSUM_KEY] != checksum(stored):
        raise CheckpointError(f"corrupt checkpoint {path}: its tensors do not match their checksum")

    named = _named_leaves(template)
    expected = {name for name, _ in named}
    if expected != set(stored) if strict else not expected <= set(stored):
        missing = sorted(expected - set(stored))[:3]
        extra = sorted(set(stored) - expected)[:3]
        raise CheckpointError(
            f"checkpoint {path} does not match the configuration (missing {missing}, unexpected {extra})"
        )
    new_leaves = []
    for name, leaf in named:
        value = stored[name]
        if tuple(value.shape) != tuple(np.shape(leaf)):
            raise CheckpointError(
                f"checkpoint {path}: {name} has shape {value.shape}, the configuration needs {np.shape(leaf)}"
            )
        new_leaves.append(jax.numpy.asarray(value, dtype=jax.numpy.asarray(leaf).dtype))
    treedef = jax.tree_util.tree_structure(template)
    return jax.tree_util.tree_unflatten(treedef, new_leaves), meta
