"""Training: the jitted update, the loop, run directories, checkpoints and logs.

A run directory holds:

- ``config.json``: the whole resolved :class:`TrainConfig` and model config;
- ``checkpoint.safetensors``: parameters, optimiser state and (in its metadata) the step counter,
  sequences seen and wall time, written atomically -- the RNG state is ``(seed, step)``: update
  ``step`` trains on the batch drawn from ``fold_in(fold_in(key(seed), 1), step)``, so a resumed run
  replays exactly the same data;
- ``metrics.csv``: one row per logging interval (cost, bit errors, evaluation cost, sequences per
  second, updates skipped for a non-finite loss or gradient); TensorBoard event files beside it.

Training data is sampled on the device inside the jitted update, and ``steps_per_call`` updates run
per call under ``lax.scan``, so the host only sees the loop every few hundred sequences.  Where JAX
has several devices (the ``ntm`` command makes one CPU device per core), each update's batch is
split across them and their gradients averaged (:func:`data_parallel_devices`).  Every call
has the same shape (steps past the end of the budget are no-ops), so a run compiles its update once,
and runs with equal settings in one process (a resume, another seed) share that compilation.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import threading
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ntm import _xla, checkpoint, metrics, presets
from ntm import tasks as _tasks

__all__ = [
    "TrainConfig",
    "TrainResult",
    "make_optimizer",
    "train",
    "resume",
    "load_run",
    "read_config",
    "data_parallel_devices",
    "read_metrics",
    "RunError",
]

CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "checkpoint.safetensors"
METRICS_FILE = "metrics.csv"
METRICS_COLUMNS = ("sequences", "cost_bits", "bit_errors", "eval_cost_bits", "seq_per_s", "wall_time", "skipped")


class RunError(ValueError):
    """A run directory or a training configuration is unusable (message names the problem)."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run.

    Attributes:
        task: task name (see ``ntm.tasks.names()``); ``task_args`` override its fields.
        model: ``"ntm-ff"``, ``"ntm-lstm"`` or ``"lstm"``; sizes come from the paper's table for the
            task, and ``model_args`` override fields of the model config.
        preset: ``"paper"`` trains as the paper did (centred RMSProp, momentum 0.9, the table's
            learning rate, batch size 1); ``"default"`` uses this library's faster settings.
        optimizer: ``"adam"`` or ``"rmsprop"`` (centred, momentum 0.9, as in Graves 2013).
        learning_rate: ``None`` takes the preset's.
        grad_clip: every gradient component is clipped to ``[-grad_clip, grad_clip]`` (paper: 10).
        batch_size: sequences per update.
        sequences: training budget in sequences.
        seed: fixes parameters and data.
        target_cost: stop once the evaluation cost (bits per sequence) is below this; None: never.
        eval_every: sequences between evaluations; eval_batch: sequences per evaluation.
        steps_per_call: updates per jitted call (0 = choose so a call covers about 256 sequences).
        max_skipped: stop after this many consecutive updates with a non-finite loss or gradient.
        time_budget: stop after this many seconds of training (None: no limit).
        curriculum: easier stages before the task proper, as ``[{"until": N, "task_args": {...}}, ...]``
            with increasing ``N``: until ``N`` sequences have been seen, batches come from the task
            with these fields set (over ``task_args``); after the last stage, from the task itself.
            Evaluation, and so ``target_cost``, always uses the task itself.  Empty: no curriculum.
        lr_schedule: later learning rates, as ``[{"from": N, "learning_rate": lr}, ...]`` with
            increasing ``N``: from ``N`` sequences on, updates use ``lr``.  Empty: ``learning_rate``
            throughout.
    """

    task: str = "copy"
    model: str = "ntm-ff"
    preset: str = "default"
    task_args: dict = dataclasses.field(default_factory=dict)
    model_args: dict = dataclasses.field(default_factory=dict)
    optimizer: str | None = None
    learning_rate: float | None = None
    grad_clip: float = 10.0
    batch_size: int | None = None
    sequences: int = 200_000
    seed: int = 0
    target_cost: float | None = 0.05
    eval_every: int = 1_000
    eval_batch: int = 256
    steps_per_call: int = 0
    max_skipped: int = 100
    time_budget: float | None = None
    curriculum: list = dataclasses.field(default_factory=list)
    lr_schedule: list = dataclasses.field(default_factory=list)

    def resolved(self) -> "TrainConfig":
        """Fill the fields left to the preset and validate everything; raises ValueError naming a field."""
        if self.preset not in ("default", "paper"):
            raise ValueError(f"preset must be 'default' or 'paper', got {self.preset!r}")
        presets._check_model(self.model)
        task = _tasks.get(self.task, **self.task_args)
        table = presets.PAPER[(task.name, self.model)]
        if self.preset == "paper":
            fill = dict(optimizer="rmsprop", learning_rate=table.learning_rate, batch_size=1)
        else:
            fill = dict(optimizer="adam", learning_rate=_DEFAULT_LR.get(self.model, 1e-3), batch_size=_DEFAULT_BATCH)
        cfg = dataclasses.replace(
            self,
            task=task.name,
            optimizer=self.optimizer or fill["optimizer"],
            learning_rate=self.learning_rate if self.learning_rate is not None else fill["learning_rate"],
            batch_size=self.batch_size if self.batch_size is not None else fill["batch_size"],
        )
        if cfg.optimizer not in ("adam", "rmsprop"):
            raise ValueError(f"optimizer must be 'adam' or 'rmsprop', got {cfg.optimizer!r}")
        for name in ("batch_size", "sequences", "eval_every", "eval_batch", "max_skipped"):
            value = getattr(cfg, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not cfg.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {cfg.learning_rate}")
        if not cfg.grad_clip > 0:
            raise ValueError(f"grad_clip must be > 0, got {cfg.grad_clip}")
        if cfg.time_budget is not None and not cfg.time_budget > 0:
            raise ValueError(f"time_budget must be > 0 seconds, got {cfg.time_budget}")
        if cfg.steps_per_call < 0:
            raise ValueError(f"steps_per_call must be >= 0, got {cfg.steps_per_call}")
        if cfg.steps_per_call == 0:
            cfg = dataclasses.replace(cfg, steps_per_call=max(1, 256 // cfg.batch_size))
        cfg.model_config()  # validates the model overrides
        cfg.stage_tasks()  # validates the curriculum
        cfg.lr_steps()  # validates the learning-rate schedule
        return cfg

    def lr_steps(self) -> tuple[tuple[int, float], ...]:
        """The schedule as ``((first_update, learning_rate), ...)``; raises ValueError naming a bad entry."""
        steps = []
        for where, start, entry in _sequence_points(self.lr_schedule, "lr_schedule", "from", "learning_rate"):
            lr = entry["learning_rate"]
            if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0 or not math.isfinite(lr):
                raise ValueError(f"{where}.learning_rate must be a number > 0, got {lr!r}")
            steps.append((math.ceil(start / self.batch_size), float(lr)))
        return tuple(steps)

    def stage_tasks(self) -> list[tuple[int, _tasks.Task]]:
        """The curriculum as ``[(until_sequences, task), ...]``; raises ValueError naming a bad stage."""
        final = self.task_obj()
        stages = []
        for where, until, stage in _sequence_points(self.curriculum, "curriculum", "until", "task_args"):
            args = stage["task_args"]
            if not isinstance(args, dict):
                raise ValueError(f"{where}.task_args must be a dict, got {args!r}")
            try:
                task = _tasks.get(self.task, **{**self.task_args, **args})
            except ValueError as exc:
                raise ValueError(f"{where}.task_args: {exc}") from None
            if (task.input_size, task.output_size) != (final.input_size, final.output_size):
                raise ValueError(f"{where}.task_args change the task's input or output width")
            stages.append((until, task))
        return stages

    def task_obj(self) -> _tasks.Task:
        return _tasks.get(self.task, **self.task_args)

    def model_config(self):
        return presets.model_config(self.task_obj(), self.model, "paper", **self.model_args)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"train config: unknown field(s) {', '.join(sorted(unknown))}")
        return cls(**data)


def _sequence_points(entries: Any, name: str, position: str, value: str):
    """Yield ``(where, position, entry)`` for a list of dicts ``{position: N, value: ...}`` whose
    ``N`` (a number of sequences) increases; raises ValueError naming the first bad entry."""
    if not isinstance(entries, (list, tuple)):
        raise ValueError(f"{name} must be a list, got {entries!r}")
    previous = 0
    for i, entry in enumerate(entries):
        where = f"{name}[{i}]"
        if not isinstance(entry, dict) or set(entry) != {position, value}:
            raise ValueError(f"{where} must be a dict with keys {position!r} and {value!r}, got {entry!r}")
        n = entry[position]
        if not isinstance(n, int) or isinstance(n, bool) or n <= previous:
            raise ValueError(f"{where}.{position} must be an integer above {previous}, got {n!r}")
        yield where, n, entry
        previous = n


# Defaults of the "default" preset, chosen by measured time-to-solve on the copy task (README).
_DEFAULT_BATCH = 8
_DEFAULT_LR = {"ntm-ff": 3e-3, "ntm-lstm": 3e-3, "lstm": 1e-3}


def make_optimizer(
    name: str, learning_rate: float, grad_clip: float, schedule: tuple[tuple[int, float], ...] = ()
) -> optax.GradientTransformation:
    """Per-component gradient clipping, then the optimiser; updates with NaN/inf are skipped.

    ``schedule``: ``((first_update, learning_rate), ...)``, later learning rates by update count
    (updates skipped for a non-finite gradient do not count).

    ``"rmsprop"`` is the centred form of Graves (2013) used by the paper: running averages of g
    and g^2 with decay 0.95, step ``lr * g / sqrt(E[g^2] - E[g]^2 + 1e-4)``, momentum 0.9.
    """
    if schedule:
        starts = jnp.asarray([s for s, _ in schedule])
        rates = jnp.asarray([learning_rate] + [lr for _, lr in schedule], dtype=jnp.float32)
        learning_rate = lambda count: rates[jnp.searchsorted(starts, count, side="right")]  # noqa: E731
    if name == "rmsprop":
        inner = optax.rmsprop(learning_rate, decay=0.95, eps=1e-4, centered=True, momentum=0.9)
    elif name == "adam":
        inner = optax.adam(learning_rate)
    else:
        raise ValueError(f"optimizer must be 'adam' or 'rmsprop', got {name!r}")
    # apply_if_finite leaves parameters and optimiser state untouched on a non-finite gradient and
    # counts the skipped updates; the loop stops the run if too many happen in a row.
    return optax.apply_if_finite(optax.chain(optax.clip(grad_clip), inner), max_consecutive_errors=10**9)


class _Stats(NamedTuple):
    cost: jax.Array  # mean cost in bits per sequence
    errors: jax.Array  # mean bit errors per sequence
    finite: jax.Array  # bool: the update was applied


def _loss(params, static, batch: _tasks.Batch):
    model = eqx.combine(params, static)
    logits = model.run(batch.inputs)
    cost = metrics.cost_bits(logits, batch.targets, batch.mask)
    errors = metrics.bit_errors(logits, batch.targets, batch.mask)
    return jnp.mean(cost), jnp.mean(errors)


def data_parallel_devices(batch_size: int) -> int:
    """How many devices share each update: the largest number of JAX's local devices (of the
    default backend) that divides ``batch_size``.  1 with a single device, as JAX has by default.

    Each device takes an equal, contiguous share of the batch that one device would have drawn,
    and the devices average their costs and gradients with one all-reduce per update; every device
    then applies the same update to its copy of the parameters.  The data and the mathematics are
    those of the whole batch on one device; only the order of the float additions in the batch
    mean changes.  On a 2-core CPU with a device per core this trains the NTM-FF 1.3-1.8x faster
    at batches 8-128 (README, speed).
    """
    return _xla.split_count(batch_size, jax.local_device_count())


def _split_batch(fn: Callable, devices: int) -> Callable:
    """``fn(params, batch) -> tree of batch means``, computed with the batch split over ``devices``
    devices: each computes ``fn`` on its share, and the shares' results are averaged with a single
    all-reduce (the tree flattened into one vector: each separate all-reduce costs about 0.1 ms on
    a CPU).  ``fn`` itself for one device."""
    if devices == 1:
        return fn
    from jax.flatten_util import ravel_pytree
    from jax.sharding import PartitionSpec

    def share(params, batch):
        flat, unravel = ravel_pytree(fn(params, batch))
        return unravel(jax.lax.pmean(flat, "batch"))

    # check_vma=False: the model's scan carries start from the (replicated) parameters and become
    # per-device values, which the varying-axes check would reject; the results are replicated by
    # the pmean.
    return jax.shard_map(
        share, mesh=_batch_mesh(devices), in_specs=(PartitionSpec(), PartitionSpec("batch")), out_specs=PartitionSpec(),
        check_vma=False,
    )


def _replicate(tree, devices: int):
    """``tree`` copied to each of the first ``devices`` devices (as the split update returns it), so
    the first call compiles for the layout every later call sees."""
    if devices == 1:
        return tree
    from jax.sharding import NamedSharding, PartitionSpec

    return jax.device_put(tree, NamedSharding(_batch_mesh(devices), PartitionSpec()))


def _batch_mesh(devices: int):
    """The first ``devices`` local devices, as a mesh with one axis, ``"batch"``."""
    from jax.sharding import Mesh

    return Mesh(np.array(jax.local_devices()[:devices]), ("batch",))


class _ChunkSpec(NamedTuple):
    """Everything static about the compiled update: equal specs share one compilation per process.

    The seed, the step range and the parameters are arguments, so a resumed run, a second run with
    another seed, or the last (shorter) stretch of a run reuse the same executable.  ``loss`` is
    looked up when the spec is made, so a test can monkeypatch ``_loss``.
    """

    task: _tasks.Task
    optimizer: str
    learning_rate: float
    grad_clip: float
    batch_size: int
    num_steps: int
    loss: Callable
    lr_steps: tuple[tuple[int, float], ...] = ()
    devices: int = 1  # the batch is split over this many devices (data_parallel_devices)


def _steps(params, static, opt_state, optimizer, task, batch_size: int, loss, base_key, steps, end, devices=1):
    """The traced body of a chunk: one update per entry of ``steps`` (``[K]``), no-ops from ``end`` on,
    each with its batch split over ``devices`` devices."""

    def cost_and_grads(params, batch):
        return jax.value_and_grad(loss, has_aux=True)(params, static, batch)

    cost_and_grads = _split_batch(cost_and_grads, devices)

    def apply(carry, step):
        params, opt_state = carry
        batch = task.sample(jax.random.fold_in(base_key, step), batch_size)
        (cost, errors), grads = cost_and_grads(params, batch)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        finite = jnp.isfinite(cost) & opt_state.last_finite
        return (params, opt_state), _Stats(cost.astype(jnp.float32), errors.astype(jnp.float32), finite)

    def skip(carry, step):
        return carry, _Stats(jnp.float32(0.0), jnp.float32(0.0), jnp.bool_(True))

    def update(carry, step):
        return jax.lax.cond(step < end, apply, skip, carry, step)

    (params, opt_state), stats = jax.lax.scan(update, (params, opt_state), steps)
    return params, opt_state, stats


@_xla.jit(filter=True)
def _chunk(model, opt_state, base_key, start, end, spec: _ChunkSpec):
    """Updates for steps ``start .. start + num_steps - 1``; steps ``>= end`` are skipped (no-ops).

    Every call has the same shape, so a run compiles once, and the result of a stretch of steps does
    not depend on how it is cut into calls: a resumed run equals an uninterrupted one bit for bit.
    Step ``s`` trains on the batch drawn from ``fold_in(base_key, s)``.

    Returns:
        ``(params, opt_state, stats)``; ``stats`` fields are ``[num_steps]`` (zeros where skipped).
    """
    params, static = eqx.partition(model, model.trainable_filter())
    optimizer = make_optimizer(spec.optimizer, spec.learning_rate, spec.grad_clip, spec.lr_steps)
    steps = start + jnp.arange(spec.num_steps)
    return _steps(
        params, static, opt_state, optimizer, spec.task, spec.batch_size, spec.loss, base_key, steps, end, spec.devices
    )


def _make_chunk(static, task, optimizer, batch_size: int, num_steps: int, base_key, devices: int = 1):
    """``chunk(params, opt_state, start) -> (params, opt_state, stats)``: ``num_steps`` updates from
    step ``start``, jitted on its own (the benchmarks time this; the training loop uses ``_chunk``).
    With ``devices > 1``, pass parameters and optimiser state through :func:`_replicate` first."""

    @_xla.jit
    def chunk(params, opt_state, start):
        steps = start + jnp.arange(num_steps)
        return _steps(
            params, static, opt_state, optimizer, task, batch_size, _loss, base_key, steps, steps[-1] + 1, devices
        )

    return chunk


@_xla.jit(filter=True)
def _evaluate(model, key, task: _tasks.Task, batch_size: int, loss: Callable, devices: int = 1):
    """Mean cost (bits per sequence) and bit errors on one fresh batch from the training range,
    split over ``devices`` devices as the training batches are."""
    params, static = eqx.partition(model, model.trainable_filter())
    return _split_batch(lambda p, batch: loss(p, static, batch), devices)(params, task.sample(key, batch_size))


def _skip_runs(previous: int, finite: np.ndarray) -> tuple[int, int]:
    """``(longest, trailing)`` runs of consecutive skipped updates in ``finite`` (``[K]`` bool), where a
    run of ``previous`` skips continues from the last chunk."""
    longest = run = previous
    for ok in finite.tolist():
        run = 0 if ok else run + 1
        longest = max(longest, run)
    return longest, run


class TrainResult(NamedTuple):
    model: eqx.Module
    config: TrainConfig
    sequences: int  # sequences trained on in total
    wall_time: float  # seconds of training in total (over resumes)
    eval_cost: float | None  # last evaluation cost in bits per sequence
    solved: bool  # eval_cost < target_cost
    stop_reason: str


def _build(cfg: TrainConfig):
    model = presets.build_model(cfg.model_config(), jax.random.key(cfg.seed))
    params, static = eqx.partition(model, model.trainable_filter())
    optimizer = make_optimizer(cfg.optimizer, cfg.learning_rate, cfg.grad_clip, cfg.lr_steps())
    # One compiled program for the whole state, rather than one per parameter shape op by op.
    return params, static, optimizer, jax.jit(optimizer.init)(params)


def load_run(out_dir: str | Path) -> tuple[eqx.Module, TrainConfig, dict[str, Any]]:
    """Load a run directory: ``(model, train_config, checkpoint_meta)``.

    Raises:
        RunError: the directory, its config or its checkpoint is missing, corrupt or incompatible.
    """
    cfg = _read_config(Path(out_dir))
    params, static, _, opt_state = _build(cfg)
    state, meta = _load_checkpoint(Path(out_dir), params, opt_state)
    return eqx.combine(state["params"], static), cfg, meta


def read_metrics(out_dir: str | Path) -> list[dict[str, float]]:
    """The rows of a run's ``metrics.csv`` as dicts of floats (an empty ``eval_cost_bits`` is NaN).

    Raises:
        RunError: the file is missing or is not a metrics log.
    """
    path = Path(out_dir) / METRICS_FILE
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        return [{c: float(r[c]) if r[c] not in ("", None) else float("nan") for c in METRICS_COLUMNS} for r in rows]
    except FileNotFoundError:
        raise RunError(f"no training log at {path}") from None
    except (OSError, KeyError, TypeError, ValueError, csv.Error) as exc:
        raise RunError(f"corrupt training log {path}: {exc}") from None


def read_config(out_dir: str | Path) -> TrainConfig:
    """The resolved :class:`TrainConfig` of a run directory (without loading its checkpoint).

    Raises:
        RunError: the directory or its ``config.json`` is missing or corrupt.
    """
    return _read_config(Path(out_dir))


def _read_config(out: Path) -> TrainConfig:
    if not out.is_dir():
        raise RunError(f"no run directory at {out}")
    path = out / CONFIG_FILE
    try:
        data = json.loads(path.read_text())
        return TrainConfig.from_dict(data["train"]).resolved()
    except FileNotFoundError:
        raise RunError(f"{out} is not a run directory: {CONFIG_FILE} is missing") from None
    except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise RunError(f"corrupt {path}: {exc}") from None


_META_FIELDS = ("step", "sequences", "wall_time")


def _scalars_as_vectors(tree):
    return jax.tree_util.tree_map(lambda x: jnp.reshape(x, (1,)) if jnp.ndim(x) == 0 else x, tree)


def _load_checkpoint(out: Path, params, opt_state):
    template = {"params": params, "opt": opt_state}
    path = out / CHECKPOINT_FILE
    try:
        state, meta = checkpoint.load(path, template)
    except checkpoint.CheckpointError as exc:
        # Checkpoints saved before checkpoint.save kept 0-d arrays 0-d hold the optimiser's counters
        # as shape (1,); read those too, and report the first error if that fails as well.
        try:
            state, meta = checkpoint.load(path, _scalars_as_vectors(template))
        except checkpoint.CheckpointError:
            raise RunError(str(exc)) from None
        state = jax.tree_util.tree_map(lambda x, t: jnp.reshape(x, jnp.shape(t)), state, template)
    if not isinstance(meta, dict) or not all(isinstance(meta.get(k), (int, float)) for k in _META_FIELDS):
        raise RunError(f"corrupt checkpoint {path}: its metadata lacks {', '.join(_META_FIELDS)}")
    return state, meta


def train(
    config: TrainConfig,
    out_dir: str | Path | None = None,
    *,
    progress: bool = True,
    overwrite: bool = False,
) -> TrainResult:
    """Train a model from scratch; write the run directory if ``out_dir`` is given.

    Raises:
        ValueError: a bad configuration (the message names the field).
        RunError: ``out_dir`` already holds a run and ``overwrite`` is False, or is not a directory.
    """
    cfg = config.resolved()
    out = None if out_dir is None else Path(out_dir)
    if out is not None:
        if out.exists() and not out.is_dir():
            raise RunError(f"{out} exists and is not a directory")
        if (out / CONFIG_FILE).exists() and not overwrite:
            raise RunError(
                f"{out} already holds a run; resume it with --resume, replace it with --overwrite, "
                f"or choose another --out"
            )
        out.mkdir(parents=True, exist_ok=True)
        if overwrite:  # the old run's files go; anything else in the folder stays
            for old in [out / CHECKPOINT_FILE, *out.glob("events.out.tfevents.*")]:
                old.unlink(missing_ok=True)
        config_json = {"train": cfg.to_dict(), "model": presets.config_to_dict(cfg.model_config())}
        checkpoint.atomic_write_text(out / CONFIG_FILE, json.dumps(config_json, indent=2) + "\n")
        (out / METRICS_FILE).unlink(missing_ok=True)
    params, static, optimizer, opt_state = _build(cfg)
    return _loop(cfg, out, params, static, opt_state, {"step": 0, "sequences": 0, "wall_time": 0.0}, progress)


_UNCHANGED: Any = object()


def resume(
    out_dir: str | Path,
    *,
    sequences: int | None = None,
    progress: bool = True,
    time_budget: float | None = _UNCHANGED,
    target_cost: float | None = _UNCHANGED,
    max_skipped: int | None = None,
) -> TrainResult:
    """Continue a run from its last checkpoint, optionally with new stopping settings.

    ``sequences`` (a new total budget), ``time_budget`` (total training seconds, counting the time
    already spent; None: no limit), ``target_cost`` (None: never stop early) and ``max_skipped``
    may change: they decide when the run stops, never what an update computes.

    The result equals that of an uninterrupted run with the same config, bit for bit: every update's
    batch depends only on ``(seed, step)`` and the compiled update does not depend on where a run
    was cut.  Nothing in the directory changes unless the config, checkpoint and log all load.

    Raises:
        RunError: the directory, its config, checkpoint or log is missing, corrupt or incompatible.
        ValueError: a bad ``sequences``.
    """
    out = Path(out_dir)
    cfg = _read_config(out)
    changes: dict[str, Any] = {}
    if sequences is not None:
        changes["sequences"] = sequences
    if time_budget is not _UNCHANGED:
        changes["time_budget"] = time_budget
    if target_cost is not _UNCHANGED:
        changes["target_cost"] = target_cost
    if max_skipped is not None:
        changes["max_skipped"] = max_skipped
    if changes:
        cfg = dataclasses.replace(cfg, **changes).resolved()
    params, static, _, opt_state = _build(cfg)
    state, meta = _load_checkpoint(out, params, opt_state)
    rows = _kept_metrics(out, int(meta["sequences"]))
    # Only now, with everything loaded, touch the directory.
    if changes:
        config_json = json.loads((out / CONFIG_FILE).read_text())
        config_json["train"] = cfg.to_dict()
        checkpoint.atomic_write_text(out / CONFIG_FILE, json.dumps(config_json, indent=2) + "\n")
    if rows is not None:
        lines = [",".join(METRICS_COLUMNS)] + [",".join(r[c] for c in METRICS_COLUMNS) for r in rows]
        checkpoint.atomic_write_text(out / METRICS_FILE, "\n".join(lines) + "\n")
    return _loop(cfg, out, state["params"], static, state["opt"], meta, progress)


def _kept_metrics(out: Path, sequences: int) -> list[dict[str, str]] | None:
    """Log rows up to the checkpoint; rows after it are dropped, so a resumed run logs each interval
    once.  None when there is nothing to rewrite."""
    path = out / METRICS_FILE
    if not path.exists():
        return None
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
        missing = [c for c in METRICS_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"missing column(s) {', '.join(missing)}")
        kept = [r for r in rows if int(r["sequences"]) <= sequences]
    except (OSError, TypeError, ValueError, csv.Error) as exc:
        raise RunError(f"corrupt training log {path}: {exc}") from None
    return None if len(kept) == len(rows) else kept


def _loop(cfg: TrainConfig, out: Path | None, params, static, opt_state, meta, progress: bool):
    from tqdm.auto import tqdm

    task = cfg.task_obj()
    base_key = jax.random.fold_in(jax.random.key(cfg.seed), 1)
    eval_key = jax.random.fold_in(jax.random.key(cfg.seed), 2)
    k = cfg.steps_per_call
    total_steps = math.ceil(cfg.sequences / cfg.batch_size)
    lr_steps = cfg.lr_steps()
    devices = data_parallel_devices(cfg.batch_size)
    eval_devices = data_parallel_devices(cfg.eval_batch) if devices > 1 else 1
    params, opt_state = _replicate((params, opt_state), devices)

    def spec(stage_task: _tasks.Task) -> _ChunkSpec:
        return _ChunkSpec(
            stage_task, cfg.optimizer, cfg.learning_rate, cfg.grad_clip, cfg.batch_size, k, _loss, lr_steps, devices
        )

    # (first step after the stage, its update's spec) per curriculum stage, then the task itself.
    stages = [(min(math.ceil(until / cfg.batch_size), total_steps), spec(t)) for until, t in cfg.stage_tasks()]
    stages.append((total_steps, spec(task)))

    step = start_step = int(meta["step"])
    wall = float(meta["wall_time"])
    eval_cost = meta.get("eval_cost")
    skipped_run = 0
    solved = eval_cost is not None and cfg.target_cost is not None and eval_cost < cfg.target_cost
    writer = _writer(out) if step < total_steps and not solved else None  # (it creates a file)
    # The evaluation compiles in a thread of its own while the first training call compiles and
    # runs (XLA compiles without holding the GIL), instead of holding up training at the first
    # evaluation; its result, on the initial parameters, is not used.
    warm_up = (
        _in_background(
            _evaluate, eqx.combine(params, static), eval_key, task, cfg.eval_batch, _loss, eval_devices
        )
        if step < total_steps and not solved
        else None
    )
    bar = tqdm(
        total=total_steps * cfg.batch_size, initial=min(step, total_steps) * cfg.batch_size, unit="seq",
        disable=not progress, dynamic_ncols=True, desc=f"{cfg.task} {cfg.model}",
    )
    stop_reason = "budget"
    next_eval = (step * cfg.batch_size // cfg.eval_every + 1) * cfg.eval_every
    try:
        while step < total_steps and not solved:
            t0 = time.perf_counter()
            end, stage_spec = next((e, s) for e, s in stages if step < e)
            n = min(k, end - step)
            params, opt_state, stats = _chunk(
                eqx.combine(params, static), opt_state, base_key, jnp.asarray(step), jnp.asarray(end), stage_spec
            )
            cost = np.asarray(stats.cost)[:n]
            errors = np.asarray(stats.errors)[:n]
            finite = np.asarray(stats.finite)[:n]
            step += n
            seqs = step * cfg.batch_size
            row_eval = ""
            if seqs >= next_eval or step >= total_steps:
                if warm_up is not None:
                    warm_up.join()
                    warm_up = None
                next_eval = (seqs // cfg.eval_every + 1) * cfg.eval_every
                ec, _ = _evaluate(
                    eqx.combine(params, static), jax.random.fold_in(eval_key, step), task, cfg.eval_batch, _loss,
                    eval_devices,
                )
                eval_cost = float(ec)
                row_eval = eval_cost
                solved = cfg.target_cost is not None and eval_cost < cfg.target_cost
            dt = time.perf_counter() - t0
            wall += dt
            longest_skips, skipped_run = _skip_runs(skipped_run, finite)
            row = {
                "sequences": seqs,
                "cost_bits": float(cost[finite].mean()) if finite.any() else float("nan"),
                "bit_errors": float(errors[finite].mean()) if finite.any() else float("nan"),
                "eval_cost_bits": row_eval,
                "seq_per_s": n * cfg.batch_size / dt,
                "wall_time": wall,
                "skipped": int(np.sum(~finite)),
            }
            _log(out, writer, row)
            bar.update(n * cfg.batch_size)
            bar.set_postfix(
                cost=f"{row['cost_bits']:.3f}", errors=f"{row['bit_errors']:.2f}",
                eval=f"{eval_cost:.3f}" if eval_cost is not None else "-", seq_s=f"{row['seq_per_s']:.0f}",
            )
            if longest_skips >= cfg.max_skipped:
                stop_reason = (
                    f"stopped: {longest_skips} consecutive updates had a non-finite loss or gradient "
                    f"(max_skipped={cfg.max_skipped}); each was skipped, leaving the parameters unchanged"
                )
                break
            if cfg.time_budget is not None and wall >= cfg.time_budget:
                stop_reason = "time budget"
                break
            if out is not None and row_eval != "":  # checkpoint at every evaluation
                _save(out, params, opt_state, step, seqs, wall, eval_cost)
    except KeyboardInterrupt:
        stop_reason = "interrupted"
    finally:
        bar.close()
        if writer is not None:
            writer.close()
        if warm_up is not None:
            warm_up.join()
    if solved:
        stop_reason = "solved"
    if out is not None and step != start_step:  # a run with nothing left to do leaves its files alone
        _save(out, params, opt_state, step, step * cfg.batch_size, wall, eval_cost)
    if devices > 1:  # the model callers get lives on one device, as any other array they make
        params = jax.device_put(params, jax.local_devices()[0])
    return TrainResult(
        eqx.combine(params, static), cfg, step * cfg.batch_size, wall, eval_cost, solved, stop_reason
    )


def _in_background(fn: Callable, *args) -> threading.Thread:
    """``fn(*args)`` started in a daemon thread, its result and any exception dropped (a real call
    later raises the same error where it can be reported)."""

    def call():
        try:
            jax.block_until_ready(fn(*args))
        except Exception:  # noqa: BLE001 -- reported by the real call
            pass

    thread = threading.Thread(target=call, name="ntm-warm-up", daemon=True)
    thread.start()
    return thread


def _save(out: Path, params, opt_state, step: int, seqs: int, wall: float, eval_cost) -> None:
    meta = {"step": step, "sequences": seqs, "wall_time": wall, "eval_cost": eval_cost}
    checkpoint.save(out / CHECKPOINT_FILE, {"params": params, "opt": opt_state}, meta)


def _writer(out: Path | None):
    if out is None:
        return None
    try:
        from tensorboardX import SummaryWriter
    except ImportError:  # TensorBoard logs are optional
        return None
    return SummaryWriter(str(out))


def _log(out: Path | None, writer, row: dict[str, Any]) -> None:
    if out is None:
        return
    path = out / METRICS_FILE
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=METRICS_COLUMNS)
        if new:
            w.writeheader()
        w.writerow(row)
    if writer is not None:
        for name in ("cost_bits", "bit_errors", "seq_per_s"):
            writer.add_scalar(f"train/{name}", row[name], row["sequences"])
        if row["eval_cost_bits"] != "":
            writer.add_scalar("eval/cost_bits", row["eval_cost_bits"], row["sequences"])
