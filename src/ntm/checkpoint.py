"""Checkpoints: parameters and optimiser state in one safetensors file, written atomically.

A checkpoint holds every array leaf of ``{"params": ..., "opt": ...}`` under its pytree path, and
a JSON string in the safetensors metadata (step counter, sequences seen, wall time).  Loading
needs a template pytree of the same structure (built from the run's config), so nothing is ever
executed from the file: no pickle.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

__all__ = ["save", "load", "atomic_write_text", "CheckpointError"]


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not match the run's configuration."""


def _named_leaves(tree: Any) -> list[tuple[str, Any]]:
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [(jax.tree_util.keystr(path), leaf) for path, leaf in leaves]


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file and a rename, so readers never see half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save(path: str | Path, tree: Any, meta: dict[str, Any]) -> None:
    """Save every array leaf of ``tree`` and the JSON-able ``meta`` to ``path`` atomically.

    The file is first written beside its final name and then renamed over it, so a process killed
    mid-save leaves the previous checkpoint intact.
    """
    path = Path(path)
    arrays = {}
    for name, leaf in _named_leaves(tree):
        arrays[name] = np.array(leaf, order="C")  # keeps 0-d arrays 0-d (ascontiguousarray would not)
    tmp = path.with_name(path.name + ".tmp")
    save_file(arrays, str(tmp), metadata={"meta": json.dumps(meta)})
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load(path: str | Path, template: Any) -> tuple[Any, dict[str, Any]]:
    """Load a checkpoint into the structure of ``template``.

    Returns:
        ``(tree, meta)``: ``template`` with every array leaf replaced by the stored one.

    Raises:
        CheckpointError: the file is missing or corrupt, or its arrays do not match the template
            (names or shapes): the checkpoint comes from an incompatible configuration.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        stored = load_file(str(path))
        with open(path, "rb") as f:
            header_len = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(header_len))
        meta = json.loads(header.get("__metadata__", {}).get("meta", "{}"))
    except (SafetensorError, OSError, ValueError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"corrupt checkpoint {path}: {exc}") from None

    named = _named_leaves(template)
    expected = {name for name, _ in named}
    if expected != set(stored):
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
