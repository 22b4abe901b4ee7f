"""A run directory, and everything that reads or writes one.

    run/
      config.json              what was trained: task, model (the whole config), seed, loop settings
      checkpoint.safetensors   the last state: parameters, optimiser state, step counter (resume from it)
      best.safetensors         the parameters of the lowest evaluation cost so far (for a task
                               with a reference cost, the lowest excess over it on the same batch)
      metrics.csv              one row per logging interval; TensorBoard event files beside it
      eval.json                evaluations, each tagged with the checkpoint it scored
      .lock                    held while a process writes the run

Guarantees:

- The model is rebuilt from the saved ``model`` section (every field of its config), never from
  today's defaults or the paper's table, so changing a default never changes an old run.
- One writer at a time: a second process that tries to write the run is refused
  (:meth:`Run.lock`, an advisory ``flock`` released when the writer exits, however it exits).
- Checkpoints carry a checksum of their tensors (:mod:`ntm.checkpoint`): damage is an error.
- Evaluations are merged per checkpoint, and :meth:`Run.evaluation` returns only those of the
  checkpoint that is there now: after ``--overwrite`` or ``--resume`` an old evaluation is never
  shown as current.
- A directory with a config but no checkpoint (a run stopped before its first checkpoint) holds
  no run yet: the same command starts it again, and ``--resume`` starts it from the beginning.

Shipped models are run directories too: ``shipped:copy`` names the one in the package.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from ntm import checkpoint, presets
from ntm import tasks as _tasks

__all__ = [
    "Run",
    "RunError",
    "CheckpointInfo",
    "resolve",
    "CONFIG_FILE",
    "CHECKPOINT_FILE",
    "BEST_FILE",
    "METRICS_FILE",
    "EVAL_FILE",
    "METRICS_COLUMNS",
]

CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "checkpoint.safetensors"
BEST_FILE = "best.safetensors"
METRICS_FILE = "metrics.csv"
EVAL_FILE = "eval.json"
LOCK_FILE = ".lock"
# eval_reference_bits: the task's reference cost on the evaluation's batch (dynamic n-grams: the
# Bayes optimum), empty for other tasks and between evaluations.
METRICS_COLUMNS = ("sequences", "cost_bits", "bit_errors", "eval_cost_bits", "seq_per_s", "wall_time", "skipped",
                   "eval_reference_bits")
# Columns a log written before they existed lacks: read as empty, and added when it grows.
_LATER_COLUMNS = ("eval_reference_bits",)
SHIPPED_PREFIX = "shipped:"
_FORMAT = 2
_META_FIELDS = ("step", "sequences", "wall_time")


def _row_floats(row: dict[str, str]) -> dict[str, float]:
    """A metrics.csv row as floats: empty is NaN, and so is a later column the log lacks (a
    missing column of the first ones raises KeyError)."""
    values = {c: row.get(c) if c in _LATER_COLUMNS else row[c] for c in METRICS_COLUMNS}
    return {c: float(v) if v not in ("", None) else float("nan") for c, v in values.items()}


class RunError(ValueError):
    """A run directory is missing, corrupt, busy or incompatible (the message names the problem)."""


class CheckpointInfo(NamedTuple):
    """Which checkpoint a model came from."""

    which: str  # "best" or "last"
    path: Path
    sha256: str  # checksum of its tensors: the checkpoint's identity
    sequences: int
    eval_cost: float | None
    # That evaluation's excess over the task's reference cost on the same sequences (dynamic
    # n-grams: the Bayes optimum); None for a task without one, or a checkpoint saved before.
    eval_excess: float | None = None

    def describe(self) -> str:
        cost = "" if self.eval_cost is None else f", evaluation cost {self.eval_cost:.4g} bits"
        if self.eval_cost is not None and self.eval_excess is not None:
            cost += f", {self.eval_excess:.3g} above the reference on the same sequences"
        return f"{self.which} checkpoint ({self.sequences:,} sequences{cost})"


def resolve(path: str | Path) -> Path:
    """The directory a command-line argument names: a path, or ``shipped:TASK`` for a shipped model."""
    text = str(path)
    if text.startswith(SHIPPED_PREFIX):
        from ntm import pretrained

        task = text[len(SHIPPED_PREFIX):]
        folder = pretrained.ROOT / task
        if not (folder / CONFIG_FILE).is_file():
            raise RunError(f"no shipped model {task!r}; shipped: {', '.join(pretrained.available()) or 'none'}")
        return folder
    return Path(path)


def model_name(model: Any) -> str:
    """``"ntm-ff"``, ``"ntm-lstm"``, ``"lstm"`` (the baseline), or ``"custom"`` for a module of one's own."""
    from ntm.baseline import LSTMBaseline
    from ntm.model import NTM

    if isinstance(model, NTM):
        return "ntm-ff" if model.config.controller == "feedforward" else "ntm-lstm"
    if isinstance(model, LSTMBaseline):
        return "lstm"
    return "custom"


def model_section(model: Any) -> dict[str, Any]:
    """The ``model`` section of config.json: the whole config of an NTM or LSTM baseline, or the
    class of a module of one's own (which only Python can rebuild)."""
    if model_name(model) != "custom":
        return presets.config_to_dict(model.config)
    cls = type(model)
    return {"kind": "custom", "class": f"{cls.__module__}:{cls.__qualname__}"}


def _normalise(data: dict[str, Any]) -> dict[str, Any]:
    """A config.json of any format as the current one: ``task``, ``model``, ``model_name``, ``seed``,
    ``fit`` (and ``train``, for runs made from a :class:`~ntm.training.TrainConfig`)."""
    if data.get("format") == _FORMAT:
        return data
    train = data["train"]  # the first format: the TrainConfig and the model section
    fit = {k: train[k] for k in ("batch_size", "sequences", "target_cost", "eval_every", "eval_batch",
                                 "steps_per_call", "max_skipped", "time_budget", "curriculum") if k in train}
    return {
        "format": _FORMAT,
        "task": {"spec": train["task"], "args": dict(train.get("task_args", {}))},
        "model": data["model"],
        "model_name": train["model"],
        "seed": train["seed"],
        "fit": fit,
        "train": train,
    }


class Run:
    """A run directory (see the module docstring).  Cheap to make; reads happen on use."""

    def __init__(self, path: str | Path):
        self.path = resolve(path)
        self._log_upgraded = False  # whether metrics.csv is known to have every column
        self._config: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    # What was trained -------------------------------------------------------------------------

    def exists(self) -> bool:
        """Whether the directory holds a config (a run, or one stopped before its first checkpoint)."""
        return (self.path / CONFIG_FILE).is_file()

    @property
    def shipped(self) -> bool:
        """A model shipped inside the package: read-only (evaluations of it are not stored)."""
        from ntm import pretrained

        return self.path.resolve().parent == pretrained.ROOT.resolve()

    def has_checkpoint(self) -> bool:
        """Whether the directory holds a trained run: a last or a best checkpoint."""
        return (self.path / CHECKPOINT_FILE).is_file() or (self.path / BEST_FILE).is_file()

    @property
    def config(self) -> dict[str, Any]:
        """config.json, in the current format.

        Raises:
            RunError: the directory or its config is missing or corrupt.
        """
        if self._config is None:
            if not self.path.is_dir():
                raise RunError(f"no run directory at {self.path}")
            path = self.path / CONFIG_FILE
            try:
                self._config = _normalise(json.loads(path.read_text()))
                for key in ("task", "model", "model_name", "seed", "fit"):
                    self._config[key]  # noqa: B018 -- each must be there
            except FileNotFoundError:
                raise RunError(f"{self.path} is not a run directory: {CONFIG_FILE} is missing") from None
            except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise RunError(f"corrupt {path}: {type(exc).__name__}: {exc}") from None
        return self._config

    def write_config(self, data: dict[str, Any]) -> None:
        data = {"format": _FORMAT, **data}
        checkpoint.atomic_write_text(self.path / CONFIG_FILE, json.dumps(data, indent=2) + "\n")
        self._config = None

    def task(self) -> _tasks.Task:
        """The task the run trains on (imported again from its recorded import path if it is not
        one of the registered tasks).

        Raises:
            RunError: the task cannot be found or rebuilt.
        """
        section = self.config["task"]
        try:
            return _tasks.get(section["spec"], **section.get("args", {}))
        except ValueError as exc:
            raise RunError(f"{self.path}: {exc}") from None

    @property
    def task_name(self) -> str:
        return self.task().name

    @property
    def model_name(self) -> str:
        return self.config["model_name"]

    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    @property
    def curriculum(self) -> list[dict[str, Any]]:
        return list(self.config["fit"].get("curriculum") or [])

    def model_config(self):
        """The saved model config (:class:`~ntm.NTMConfig` or :class:`~ntm.LSTMConfig`).

        Raises:
            RunError: the model is a module of one's own (rebuild it in Python), or the section is corrupt.
        """
        section = self.config["model"]
        if section.get("kind") == "custom":
            raise RunError(
                f"{self.path} trains a model of the user's own ({section.get('class')}); load it in Python "
                f"with ntm.runs.Run(...).load_params(template)"
            )
        try:
            return presets.config_from_dict(section)
        except ValueError as exc:
            raise RunError(f"corrupt {self.path / CONFIG_FILE}: {exc}") from None

    def template(self):
        """A model of the saved shape, its parameters drawn from the run's seed (as at the start of training)."""
        return presets.build_model(self.model_config(), jax.random.key(self.seed))

    # Checkpoints ------------------------------------------------------------------------------

    def checkpoint_info(self, which: str = "best") -> CheckpointInfo | None:
        """The checkpoint ``which`` (``"best"``, falling back to the last one where there is no best
        yet; or ``"last"``) as it is on disk now, or None without one.

        Raises:
            RunError: the checkpoint is corrupt.
        """
        if which not in ("best", "last"):
            raise ValueError(f"checkpoint must be 'best' or 'last', got {which!r}")
        order = [("best", BEST_FILE), ("last", CHECKPOINT_FILE)] if which == "best" else [("last", CHECKPOINT_FILE)]
        for name, file in order:
            path = self.path / file
            if path.is_file():
                meta, digest = _meta_and_checksum(path)
                return CheckpointInfo(name, path, digest, int(meta.get("sequences", 0)), meta.get("eval_cost"),
                                      meta.get("eval_excess"))
        return None

    def load_params(self, template, which: str = "best") -> tuple[Any, CheckpointInfo]:
        """``template`` (a model) with its trainable arrays from checkpoint ``which``; and which it was.

        Raises:
            RunError: no checkpoint, or a corrupt or incompatible one.
        """
        from ntm.training.step import trainable

        info = self.checkpoint_info(which)
        if info is None:
            raise RunError(f"no checkpoint in {self.path}: train it first (a run writes one at every evaluation)")
        params, static = eqx.partition(template, trainable(template))
        try:
            state, _ = checkpoint.load(info.path, {"params": params}, strict=False)
        except checkpoint.CheckpointError as exc:
            raise RunError(str(exc)) from None
        return eqx.combine(state["params"], static), info

    def load_model(self, which: str = "best") -> tuple[Any, CheckpointInfo]:
        """The trained model, rebuilt from the saved config, and which checkpoint it came from."""
        return self.load_params(self.template(), which)

    def load_state(self, template: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """The last checkpoint, ``{"params": ..., "opt": ...}`` in the structure of ``template``, and its metadata.

        Raises:
            RunError: missing, corrupt or incompatible.
        """
        path = self.path / CHECKPOINT_FILE
        try:
            state, meta = checkpoint.load(path, template)
        except checkpoint.CheckpointError as exc:
            # Checkpoints written before 0-d arrays were kept 0-d hold the optimiser's counters as
            # shape (1,); read those too, and report the first error if that fails as well.
            try:
                state, meta = checkpoint.load(path, _scalars_as_vectors(template))
            except checkpoint.CheckpointError:
                raise RunError(str(exc)) from None
            state = jax.tree_util.tree_map(lambda x, t: jnp.reshape(x, jnp.shape(t)), state, template)
        if not all(isinstance(meta.get(k), (int, float)) for k in _META_FIELDS):
            raise RunError(f"corrupt checkpoint {path}: its metadata lacks {', '.join(_META_FIELDS)}")
        return state, meta

    def save_state(self, state: dict[str, Any], meta: dict[str, Any]) -> str:
        """Write the last checkpoint atomically; returns its checksum."""
        return checkpoint.save(self.path / CHECKPOINT_FILE, state, meta)

    def save_best(self, params: Any, meta: dict[str, Any]) -> str:
        """Write the best checkpoint (parameters only) atomically; returns its checksum."""
        return checkpoint.save(self.path / BEST_FILE, {"params": params}, meta)

    def clear(self) -> None:
        """Remove a previous run's files (for ``--overwrite``); anything else in the folder stays."""
        for name in (CHECKPOINT_FILE, BEST_FILE, METRICS_FILE, EVAL_FILE):
            (self.path / name).unlink(missing_ok=True)
        for old in self.path.glob("events.out.tfevents.*"):
            old.unlink(missing_ok=True)

    # One writer at a time ---------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run's write lock, or raise RunError at once if another process holds it."""
        import fcntl

        self.path.mkdir(parents=True, exist_ok=True)
        f = open(self.path / LOCK_FILE, "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            pid = f.read().strip()
            f.close()
            by = f" (pid {pid})" if pid else ""
            raise RunError(f"{self.path} is being written by another process{by}; wait for it, or use another --out") from None
        try:
            f.seek(0)
            f.truncate()
            f.write(str(os.getpid()))
            f.flush()
            yield
        finally:
            f.seek(0)
            f.truncate()
            fcntl.flock(f, fcntl.LOCK_UN)
            f.close()

    # The training log -------------------------------------------------------------------------

    def metrics(self) -> list[dict[str, float]]:
        """The rows of metrics.csv as dicts of floats (an empty ``eval_cost_bits`` is NaN, and so is
        a column the log predates).

        Raises:
            RunError: the file is missing or is not a metrics log.
        """
        path = self.path / METRICS_FILE
        try:
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
            return [_row_floats(r) for r in rows]
        except FileNotFoundError:
            raise RunError(f"no training log at {path}") from None
        except (OSError, KeyError, TypeError, ValueError, csv.Error) as exc:
            raise RunError(f"corrupt training log {path}: {exc}") from None

    def append_metrics(self, row: dict[str, Any]) -> None:
        path = self.path / METRICS_FILE
        new = not path.exists()
        if not new and not self._log_upgraded:
            with open(path, newline="") as f:
                header = f.readline().strip().split(",")
            if header != list(METRICS_COLUMNS) and set(header) | set(_LATER_COLUMNS) >= set(METRICS_COLUMNS):
                # A log begun before a column existed: rewritten once with every column.
                with open(path, newline="") as f:
                    self.write_metrics(list(csv.DictReader(f)))
        self._log_upgraded = True
        with open(path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=METRICS_COLUMNS)
            if new:
                w.writeheader()
            w.writerow(row)

    def kept_metrics(self, sequences: int) -> list[dict[str, str]] | None:
        """Log rows up to ``sequences`` (a checkpoint's), or None when none need dropping.

        Raises:
            RunError: a corrupt log.
        """
        path = self.path / METRICS_FILE
        if not path.exists():
            return None
        try:
            with open(path, newline="") as f:
                reader = csv.DictReader(f)
                rows = list(reader)
            missing = [c for c in METRICS_COLUMNS if c not in (reader.fieldnames or ()) and c not in _LATER_COLUMNS]
            if missing:
                raise ValueError(f"missing column(s) {', '.join(missing)}")
            kept = [r for r in rows if int(float(r["sequences"])) <= sequences]
        except (OSError, TypeError, ValueError, csv.Error) as exc:
            raise RunError(f"corrupt training log {path}: {exc}") from None
        return None if len(kept) == len(rows) else kept

    def write_metrics(self, rows: list[dict[str, str]]) -> None:
        lines = [",".join(METRICS_COLUMNS)] + [",".join(r.get(c) or "" for c in METRICS_COLUMNS) for r in rows]
        checkpoint.atomic_write_text(self.path / METRICS_FILE, "\n".join(lines) + "\n")

    # Evaluations ------------------------------------------------------------------------------

    def _evaluations(self) -> list[dict[str, Any]]:
        path = self.path / EVAL_FILE
        if not path.exists():
            return []
        try:
            doc = json.loads(path.read_text())
            if doc.get("format") == _FORMAT:
                return list(doc["evaluations"])
            # The first format held one evaluation, tagged only by the sequences trained: it cannot
            # be matched to a checkpoint, so it is kept but never shown as current.
            return [{"checkpoint": {"which": None, "sha256": None, "sequences": doc.get("sequences_trained")},
                     "batch_size": doc.get("batch_size"), "seed": doc.get("seed"), "records": doc["records"]}]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RunError(f"corrupt {path}: {exc}") from None

    def add_evaluation(self, records: list[dict[str, Any]], info: CheckpointInfo, **settings: Any) -> Path:
        """Store ``records`` with the checkpoint they scored, merged into what is there: a size
        already scored for the same checkpoint and settings is replaced, others are added."""
        entries = self._evaluations()
        tag = {"which": info.which, "sha256": info.sha256, "sequences": info.sequences}
        for entry in entries:
            if entry["checkpoint"].get("sha256") == info.sha256 and all(entry.get(k) == v for k, v in settings.items()):
                merged = {_size_key(r): r for r in entry["records"]}
                merged.update({_size_key(r): r for r in records})
                entry["records"] = list(merged.values())
                break
        else:
            entries.append({"checkpoint": tag, **settings, "records": list(records)})
        path = self.path / EVAL_FILE
        checkpoint.atomic_write_text(path, json.dumps({"format": _FORMAT, "evaluations": entries}, indent=2) + "\n")
        return path

    def evaluation(self, which: str = "best") -> tuple[list[dict[str, Any]], CheckpointInfo] | None:
        """The records of every evaluation of checkpoint ``which`` as it is now (merged, the latest
        record per size), or None if that checkpoint has not been evaluated."""
        info = self.checkpoint_info(which)
        if info is None:
            return None
        merged: dict[str, dict[str, Any]] = {}
        for entry in self._evaluations():
            if entry["checkpoint"].get("sha256") == info.sha256:
                merged.update({_size_key(r): r for r in entry["records"]})
        return (list(merged.values()), info) if merged else None


def _size_key(record: dict[str, Any]) -> str:
    """Which size a record scored: its label (:meth:`ntm.tasks.Task.point_label`), or for records
    without one, its length and repeats."""
    if "label" in record:
        return str(record["label"])
    return json.dumps({k: record.get(k) for k in ("length", "repeats")}, sort_keys=True)


def _meta_and_checksum(path: Path) -> tuple[dict[str, Any], str]:
    """A checkpoint's metadata and checksum (computed from its tensors if it predates stored ones)."""
    try:
        meta = checkpoint.read_meta(path)
        digest = meta.get(checkpoint.CHECKSUM_KEY)
        if digest is None:
            from safetensors.numpy import load_file

            digest = checkpoint.checksum(load_file(str(path)))
    except (checkpoint.CheckpointError, OSError, ValueError) as exc:
        raise RunError(f"corrupt checkpoint {path}: {exc}") from None
    return meta, digest


def _scalars_as_vectors(tree):
    return jax.tree_util.tree_map(lambda x: jnp.reshape(x, (1,)) if jnp.ndim(x) == 0 else x, tree)
