"""The JSON / command-line configuration: a thin adapter that builds the objects :func:`fit` takes.

:class:`TrainConfig` names everything as strings and numbers (a task name or import path, a model
name and size overrides, an optimiser name), so it can be saved with a run and typed on a command
line.  :func:`train` builds the model, task and optax optimiser from it and calls
:func:`~ntm.training.fit`; :func:`resume` continues a run written that way, rebuilding the model
from the run's saved model section.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import jax
import optax

from ntm import paper, presets
from ntm import runs as _runs
from ntm import tasks as _tasks
from ntm.training import optimizers
from ntm.training.loop import FitResult, Stage, fit

__all__ = ["TrainConfig", "train", "resume", "read_config"]


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run.

    Attributes:
        task: a task name (``ntm.tasks.names()``), an import path ``"module:Class"``, or a name
            of the ``ntm.tasks`` entry-point group; ``task_args`` override its fields.
        model: ``"ntm-ff"``, ``"ntm-lstm"`` or ``"lstm"``; sizes come from the paper's table for the
            task (the config defaults for a task of one's own), and ``model_args`` override fields
            of the model config.  Once a run is written, its model is rebuilt from the saved
            model section, not from these.
        preset: ``"paper"`` trains as the paper did (centred RMSProp, momentum 0.9, the table's
            learning rate, batch size 1); ``"default"`` uses this library's recipe for the task and
            model (:func:`ntm.paper.default_recipe`: measured to solve faster).
        optimizer: ``"adam"`` or ``"rmsprop"`` (centred, momentum 0.9, as in Graves 2013).
        learning_rate: ``None`` takes the preset's.
        grad_clip: with ``clip="value"`` every gradient component is clipped to
            ``[-grad_clip, grad_clip]`` (the paper: 10); with ``clip="norm"`` the gradient's global
            norm is scaled down to at most ``grad_clip``.
        clip: ``"value"`` or ``"norm"``.
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
    clip: str = "value"
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
        if self.preset == "paper":
            table = paper.PAPER.get((task.name, self.model))
            lr = table.learning_rate if table is not None else 1e-4
            fill = dict(optimizer="rmsprop", learning_rate=lr, batch_size=1)
        else:
            fill = paper.default_recipe(task.name, self.model)
        cfg = dataclasses.replace(
            self,
            task=_tasks.spec(task),
            optimizer=self.optimizer or fill["optimizer"],
            learning_rate=self.learning_rate if self.learning_rate is not None else fill["learning_rate"],
            batch_size=self.batch_size if self.batch_size is not None else fill["batch_size"],
        )
        if cfg.optimizer not in optimizers.OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(optimizers.OPTIMIZERS)}, got {cfg.optimizer!r}")
        if cfg.clip not in optimizers.CLIPS:
            raise ValueError(f"clip must be one of {', '.join(optimizers.CLIPS)}, got {cfg.clip!r}")
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

    def stage_tasks(self) -> list[Stage]:
        """The curriculum as :class:`~ntm.training.Stage` s; raises ValueError naming a bad stage."""
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
            stages.append(Stage(until, task))
        return stages

    def task_obj(self) -> _tasks.Task:
        return _tasks.get(self.task, **self.task_args)

    def model_config(self):
        """The model config a new run of these settings builds (the paper's sizes plus ``model_args``)."""
        return presets.model_config(self.task_obj(), self.model, "paper", **self.model_args)

    def optimizer_obj(self) -> optax.GradientTransformation:
        return optimizers.make_optimizer(self.optimizer, self.learning_rate, self.grad_clip, self.lr_steps(), self.clip)

    def fit_kwargs(self) -> dict[str, Any]:
        """The loop settings, as keyword arguments of :func:`~ntm.training.fit`."""
        names = ("batch_size", "sequences", "seed", "target_cost", "eval_every", "eval_batch", "time_budget",
                 "max_skipped", "steps_per_call")
        return {n: getattr(self, n) for n in names} | {"curriculum": self.stage_tasks()}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"train config: unknown field(s) {', '.join(sorted(unknown))}")
        return cls(**data)

    @classmethod
    def from_json(cls, path: str | Path) -> "TrainConfig":
        """Read a JSON file of TrainConfig fields (or a run's config.json); raises ValueError naming the problem."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read {path}: {exc}") from None
        if isinstance(data, dict) and "train" in data and isinstance(data["train"], dict):
            data = data["train"]
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object of TrainConfig fields")
        return cls.from_dict(data).resolved()


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



def train(
    config: TrainConfig,
    out_dir: str | Path | None = None,
    *,
    progress: bool = True,
    overwrite: bool = False,
) -> FitResult:
    """Train from scratch as ``config`` says; write the run directory if ``out_dir`` is given.

    Raises:
        ValueError: a bad configuration (the message names the field).
        ntm.runs.RunError: ``out_dir`` already holds a run and ``overwrite`` is False, is being
            written by another process, or is not a directory.
    """
    cfg = config.resolved()
    model = presets.build_model(cfg.model_config(), jax.random.key(cfg.seed))
    return fit(
        model, cfg.task_obj(), cfg.optimizer_obj(), **cfg.fit_kwargs(), run=out_dir, overwrite=overwrite,
        progress=progress, record={"train": cfg.to_dict()},
    )


_UNCHANGED: Any = object()


def read_config(out_dir: str | Path | _runs.Run) -> TrainConfig:
    """The :class:`TrainConfig` a run was made from.

    Raises:
        ntm.runs.RunError: the directory or its config is missing or corrupt, or the run was made
            by :func:`~ntm.training.fit` from Python objects (it has no TrainConfig).
    """
    run = out_dir if isinstance(out_dir, _runs.Run) else _runs.Run(out_dir)
    train_section = run.config.get("train")
    if train_section is None:
        raise _runs.RunError(
            f"{run.path} was trained from Python with ntm.training.fit; resume it there with fit(..., resume=True)"
        )
    try:
        return TrainConfig.from_dict(train_section).resolved()
    except (TypeError, ValueError) as exc:
        raise _runs.RunError(f"corrupt {run.path / _runs.CONFIG_FILE}: {exc}") from None


def resume(
    out_dir: str | Path,
    *,
    sequences: int | None = None,
    progress: bool = True,
    time_budget: float | None = _UNCHANGED,
    target_cost: float | None = _UNCHANGED,
    max_skipped: int | None = None,
) -> FitResult:
    """Continue a run from its last checkpoint, optionally with new stopping settings.

    ``sequences`` (a new total budget), ``time_budget`` (total training seconds, counting the time
    already spent; None: no limit), ``target_cost`` (None: never stop early) and ``max_skipped``
    may change: they decide when the run stops, never what an update computes.  A run stopped
    before its first checkpoint starts again from the beginning.

    The result equals that of an uninterrupted run with the same config, bit for bit: every update's
    batch depends only on ``(seed, step)`` and the compiled update does not depend on where a run
    was cut.  The model is rebuilt from the run's saved model section.  Nothing in the directory
    changes unless the config, checkpoint and log all load and there is training left to do.

    Raises:
        ntm.runs.RunError: the directory, its config, checkpoint or log is missing, corrupt or incompatible.
        ValueError: a bad ``sequences``.
    """
    run = _runs.Run(out_dir)
    cfg = read_config(run)
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
    return fit(
        run.template(), cfg.task_obj(), cfg.optimizer_obj(), **cfg.fit_kwargs(), run=run, resume=True,
        progress=progress, record={"train": cfg.to_dict()},
    )
