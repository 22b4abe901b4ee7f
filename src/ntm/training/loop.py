"""The training loop: :func:`fit` trains any model on any task with any optax optimiser.

The loop runs ``steps_per_call`` updates per compiled call (:func:`~ntm.training.step.run_updates`),
with every batch sampled on the device from ``(seed, step)``, so the host only sees the loop every
few hundred sequences, and a resumed run replays exactly the same data.  Between calls it logs,
evaluates on fresh batches every ``eval_every`` sequences, checkpoints at every evaluation (the
last state, and the best parameters so far), and stops on the first of: the target cost, the
sequence budget, the time budget, too many non-finite updates in a row, or Ctrl-C / SIGTERM.

The pieces that are not the loop itself (:class:`FitSettings`, :func:`prepare_run`,
:class:`RunTracker`, :func:`stage_plan`, :func:`data_keys`) are shared with
:func:`ntm.training.fit_ensemble`, whose members each behave as a run of :func:`fit` would.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ntm import runs as _runs
from ntm import tasks as _tasks
from ntm.training import parallel
from ntm.training.step import Loss, UpdatesSpec, evaluate_batch, loss_of, run_updates, skip_nonfinite, trainable

__all__ = ["Stage", "FitResult", "fit"]


class Stage(NamedTuple):
    """A curriculum stage: until ``until`` sequences have been seen, batches come from ``task``
    (an easier version of the task proper, with the same input and output widths)."""

    until: int
    task: _tasks.Task


class FitResult(NamedTuple):
    model: Any  # the trained model (the last state, on one device)
    opt_state: Any
    sequences: int  # sequences trained on in total (over resumes)
    wall_time: float  # seconds of training in total (over resumes)
    eval_cost: float | None  # the last evaluation cost (bits per sequence)
    best_cost: float | None  # the best evaluation's cost (its parameters are the run's best checkpoint)
    solved: bool  # eval_cost < target_cost
    stop_reason: str  # "solved", "budget", "time budget", "interrupted", or "stopped: ..." (non-finite updates)
    run: _runs.Run | None
    # For a task with a reference (:meth:`ntm.tasks.Task.reference_cost`): the best evaluation's
    # excess over the reference on its own batch, the measure the best checkpoint is chosen by
    # (for every other task, the lowest raw cost chooses it).  None otherwise.
    best_excess: float | None = None


@dataclasses.dataclass(frozen=True)
class FitSettings:
    batch_size: int
    sequences: int
    seed: int
    target_cost: float | None
    eval_every: int
    eval_batch: int
    time_budget: float | None
    max_skipped: int
    steps_per_call: int

    def check(self) -> "FitSettings":
        for name in ("batch_size", "sequences", "eval_every", "eval_batch", "max_skipped"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if self.time_budget is not None and not self.time_budget > 0:
            raise ValueError(f"time_budget must be > 0 seconds, got {self.time_budget}")
        if self.target_cost is not None and not isinstance(self.target_cost, (int, float)):
            raise ValueError(f"target_cost must be a number of bits or None, got {self.target_cost!r}")
        if not isinstance(self.steps_per_call, int) or self.steps_per_call < 0:
            raise ValueError(f"steps_per_call must be >= 0, got {self.steps_per_call!r}")
        if self.steps_per_call == 0:  # a call covers about 256 sequences
            return dataclasses.replace(self, steps_per_call=max(1, 256 // self.batch_size))
        return self


def check_curriculum(curriculum: Sequence[Stage], task: _tasks.Task) -> list[Stage]:
    stages, previous = [], 0
    for i, stage in enumerate(curriculum):
        if not (isinstance(stage, tuple) and len(stage) == 2 and isinstance(stage[1], _tasks.Task)):
            raise ValueError(f"curriculum[{i}] must be a Stage(until, task), got {stage!r}")
        until, stage_task = stage
        if not isinstance(until, int) or isinstance(until, bool) or until <= previous:
            raise ValueError(f"curriculum[{i}].until must be an integer above {previous}, got {until!r}")
        if (stage_task.input_size, stage_task.output_size) != (task.input_size, task.output_size):
            raise ValueError(f"curriculum[{i}].task changes the task's input or output width")
        stages.append(Stage(until, stage_task))
        previous = until
    return stages


def run_record(model, task, settings: FitSettings, stages: list[Stage]) -> dict[str, Any]:
    """What config.json records of a run made from objects."""
    fit = {k: v for k, v in dataclasses.asdict(settings).items() if k != "seed"}
    fit["curriculum"] = [{"until": s.until, "task_args": _tasks.arguments(s.task)} for s in stages]
    return {
        "task": {"spec": _tasks.spec(task), "args": _tasks.arguments(task)},
        "model": _runs.model_section(model),
        "model_name": _runs.model_name(model),
        "seed": settings.seed,
        "fit": fit,
    }


def fit(
    model: eqx.Module,
    task: _tasks.Task,
    optimizer: optax.GradientTransformation,
    *,
    batch_size: int = 8,
    sequences: int = 200_000,
    seed: int = 0,
    target_cost: float | None = 0.05,
    eval_every: int = 1_000,
    eval_batch: int = 256,
    time_budget: float | None = None,
    max_skipped: int = 100,
    curriculum: Sequence[Stage] = (),
    loss: Loss | None = None,
    run: str | Path | _runs.Run | None = None,
    resume: bool = False,
    overwrite: bool = False,
    steps_per_call: int = 0,
    progress: bool = True,
    record: dict[str, Any] | None = None,
) -> FitResult:
    """Train ``model`` on ``task`` with ``optimizer``.

    Args:
        model: an :class:`~ntm.NTM`, an :class:`~ntm.LSTMBaseline`, or an Equinox module of one's
            own with ``run(inputs)`` or ``__call__(inputs)``: ``[B, T, I] -> [B, T, O]`` logits.
            Its trainable arrays are those of :func:`~ntm.training.trainable`.
        task: any :class:`ntm.tasks.Task`; its ``cost`` is the loss unless ``loss`` is given.
        optimizer: any optax transformation (chain the clipping you want into it).  Updates whose
            cost or gradient is not finite are skipped and counted.
        batch_size: sequences per update, split over the devices that divide it.
        sequences: the budget, in sequences (a total, counting those before a resume).
        seed: update ``s`` trains on the batch drawn from ``fold_in(fold_in(key(seed), 1), s)``;
            evaluations draw from ``fold_in(key(seed), 2)``.  (The model's parameters are the
            caller's: draw them from a key of your own.)
        target_cost: stop once an evaluation's mean cost is below this; None: never stop early.
        eval_every, eval_batch: sequences between evaluations, and per evaluation.
        time_budget: stop after this many seconds of training in total (None: no limit).
        max_skipped: stop after this many consecutive non-finite updates.
        curriculum: :class:`Stage` s before the task proper; evaluations always use ``task``.
        loss: ``loss(model, batch) -> cost`` or ``(cost, bit_errors)``, batch means.
        run: a run directory to write (config.json, checkpoints, metrics.csv, TensorBoard events);
            None: nothing is written.  It is locked while training.
        resume: continue the run from its last checkpoint (``model`` and ``optimizer`` must be
            the ones it was started with; the stopping settings may change).
        overwrite: replace a run already in ``run`` instead of refusing.
        steps_per_call: updates per compiled call (0: about 256 sequences' worth).
        progress: show a progress bar.
        record: extra sections for config.json (the command line stores its configuration).

    Raises:
        ValueError: a bad setting (the message names it).
        ntm.runs.RunError: ``run`` already holds a run (without ``resume`` or ``overwrite``), is
            being written by another process, or does not match what is resumed.
    """
    settings = FitSettings(batch_size, sequences, seed, target_cost, eval_every, eval_batch, time_budget,
                           max_skipped, steps_per_call).check()
    if not isinstance(task, _tasks.Task):
        raise ValueError(f"task must be an ntm.tasks.Task, got {type(task).__name__}")
    stages = check_curriculum(curriculum, task)
    loss = loss_of(task, loss)
    wrapped = skip_nonfinite(optimizer)
    params, static = eqx.partition(model, trainable(model))
    opt_state = jax.jit(wrapped.init)(params)  # one compiled program, not one per parameter shape
    if run is None:
        if resume:
            raise ValueError("resume=True needs the run directory to resume (run=...)")
        return _loop(settings, task, stages, loss, wrapped, params, static, opt_state, new_meta(), None, progress)

    run = as_run(run)
    data = {**run_record(model, task, settings, stages), **(record or {})}
    with run.lock():
        params, opt_state, meta, write = prepare_run(run, data, model, task, settings, stages, params, opt_state,
                                                     resume, overwrite)
        write()
        return _loop(settings, task, stages, loss, wrapped, params, static, opt_state, meta, run, progress)


def new_meta() -> dict[str, Any]:
    """Where a run that has trained nothing stands."""
    return {"step": 0, "sequences": 0, "wall_time": 0.0, "eval_cost": None, "best_cost": None, "best_excess": None}


def as_run(run: str | Path | _runs.Run) -> _runs.Run:
    """``run`` as a :class:`~ntm.runs.Run`, refusing a path that is a file."""
    run = run if isinstance(run, _runs.Run) else _runs.Run(run)
    if run.path.exists() and not run.path.is_dir():
        raise _runs.RunError(f"{run.path} exists and is not a directory")
    return run


def prepare_run(run: _runs.Run, data: dict[str, Any], model, task: _tasks.Task, settings: FitSettings,
                stages: list[Stage], params, opt_state, resume: bool, overwrite: bool):
    """Read what a run directory holds and check it against what is about to be trained; with the
    run's lock held.  Returns ``(params, opt_state, meta, write)``: the state to train from, where
    it stands, and a function that writes the directory's config (and trims its log to the
    checkpoint) when called.  Nothing is written before ``write()``, so that an ensemble can check
    every member's directory before it changes any.

    Raises:
        ntm.runs.RunError: the directory holds another run, or a run that does not match (see fit).
    """
    meta = new_meta()
    if resume and run.has_checkpoint():  # (a best checkpoint alone cannot be resumed: load_state says so)
        _check_same_run(run, model, task, settings, stages)
        state, meta = run.load_state({"params": params, "opt": opt_state})
        params, opt_state = state["params"], state["opt"]
        kept = run.kept_metrics(int(meta["sequences"]))

        def write() -> None:
            if _work_left(settings, meta):  # only then is anything in the directory changed
                saved = run.config
                saved["fit"].update({k: data["fit"][k] for k in ("sequences", "target_cost", "time_budget", "max_skipped")})
                if "train" in data:
                    saved["train"] = data["train"]
                run.write_config({k: v for k, v in saved.items() if k != "format"})
                if kept is not None:
                    run.write_metrics(kept)
    else:
        if run.has_checkpoint() and not overwrite:
            raise _runs.RunError(
                f"{run.path} already holds a run; resume it with --resume, replace it with --overwrite, "
                f"or choose another --out"
            )

        def write() -> None:
            run.clear()  # a run stopped before its first checkpoint, or one being replaced
            run.write_config(data)
    return params, opt_state, meta, write


def _check_same_run(run: _runs.Run, model, task: _tasks.Task, settings: FitSettings, stages: list[Stage]) -> None:
    """A resume must continue the same training: task, model, seed, batch size and curriculum, compared
    as the objects they describe (a run of an older format records the same things otherwise)."""
    saved = run.config
    saved_task = run.task()
    saved_stages = [
        (int(st["until"]), _tasks.get(saved["task"]["spec"], **{**saved["task"].get("args", {}), **st["task_args"]}))
        for st in saved["fit"].get("curriculum") or []
    ]
    section = saved["model"]
    if section.get("kind") == "custom" or _runs.model_name(model) == "custom":
        same_model = section == _runs.model_section(model)
    else:
        same_model = run.model_config() == model.config
    checks = [
        ("task", saved_task == task, saved["task"]),
        ("model", same_model, section),
        ("seed", int(saved["seed"]) == settings.seed, saved["seed"]),
        ("batch_size", saved["fit"].get("batch_size") == settings.batch_size, saved["fit"].get("batch_size")),
        ("curriculum", saved_stages == [(st.until, st.task) for st in stages], saved["fit"].get("curriculum")),
    ]
    for name, same, old in checks:
        if not same:
            raise _runs.RunError(f"{run.path} was trained with another {name} ({old!r}); resume it with the same one")


def _work_left(settings: FitSettings, meta: dict[str, Any]) -> bool:
    if meta["step"] >= math.ceil(settings.sequences / settings.batch_size):
        return False
    if settings.time_budget is not None and meta["wall_time"] >= settings.time_budget:
        return False
    cost = meta.get("eval_cost")
    return not (cost is not None and settings.target_cost is not None and cost < settings.target_cost)


def data_keys(seed: int) -> tuple[jax.Array, jax.Array]:
    """The keys of a run's data: update ``s`` trains on ``fold_in(first, s)``, the evaluation after
    update ``s`` draws from ``fold_in(second, s)``."""
    return jax.random.fold_in(jax.random.key(seed), 1), jax.random.fold_in(jax.random.key(seed), 2)


def stage_plan(stages: list[Stage], task: _tasks.Task, settings: FitSettings,
               spec: Callable[[_tasks.Task], UpdatesSpec]) -> list[tuple[int, UpdatesSpec]]:
    """``(first step after the stage, its update's spec)`` per curriculum stage, then the task itself."""
    total_steps = math.ceil(settings.sequences / settings.batch_size)
    plan = [(min(math.ceil(st.until / settings.batch_size), total_steps), spec(st.task)) for st in stages]
    plan.append((total_steps, spec(task)))
    return plan


def stage_at(plan: list[tuple[int, UpdatesSpec]], step: int) -> tuple[int, UpdatesSpec]:
    """The end and spec of the stage that update ``step`` belongs to."""
    return next((e, sp) for e, sp in plan if step < e)


class RunTracker:
    """One run's host-side state between compiled calls: where it stands (updates, wall time,
    evaluations), its stopping rules, its log and its checkpoints.  :func:`fit` keeps one;
    :func:`~ntm.training.fit_ensemble` keeps one per member, so that a member stops, logs and
    checkpoints exactly as a run of its own would."""

    def __init__(self, settings: FitSettings, meta: dict[str, Any], run: _runs.Run | None):
        s = self.settings = settings
        self.run = run
        self.total_steps = math.ceil(s.sequences / s.batch_size)
        self.step = self.start_step = int(meta["step"])
        self.wall = float(meta["wall_time"])
        self.eval_cost = meta.get("eval_cost")
        self.best_cost = meta.get("best_cost", self.eval_cost)
        # A run saved before its task's reference was recorded has no best excess: its best
        # checkpoint was chosen by raw cost, and the next evaluation with a reference replaces it.
        self.best_excess = meta.get("best_excess")
        self.eval_excess: float | None = meta.get("eval_excess")  # the last evaluation's excess over the reference
        self.skipped_run = 0
        self.solved = self._below_target(self.eval_cost)
        self.working = self.step < self.total_steps and not self.solved and not self._time_spent()
        self.stopped: str | None = None  # why it stopped before its budget, if it did
        self.next_eval = (self.step * s.batch_size // s.eval_every + 1) * s.eval_every
        self.writer = _writer(run) if self.working else None  # (it creates a file)

    def _below_target(self, cost) -> bool:
        return cost is not None and self.settings.target_cost is not None and cost < self.settings.target_cost

    def _time_spent(self) -> bool:
        return self.settings.time_budget is not None and self.wall >= self.settings.time_budget

    @property
    def live(self) -> bool:
        """Whether it trains on."""
        return self.working and self.stopped is None and not self.solved and self.step < self.total_steps

    @property
    def sequences(self) -> int:
        return self.step * self.settings.batch_size

    def advance(self, n: int) -> bool:
        """Count ``n`` more updates; whether an evaluation is due now."""
        self.step += n
        return self.sequences >= self.next_eval or self.step >= self.total_steps

    def record(self, n: int, stats, dt: float, eval_cost: float | None, state: Callable[[], tuple],
               eval_reference: float | None = None) -> dict[str, Any]:
        """Log a call's ``n`` updates (``stats``: cost, errors and finite flags, at least ``n`` each)
        and the evaluation after them, if there was one (``eval_reference``: the task's reference
        cost on the evaluation's batch, None or NaN for a task without one); checkpoint
        ``state()`` (params and optimiser state) at an evaluation; apply the stopping rules.
        Returns the log row."""
        s = self.settings
        if eval_reference is not None and not math.isfinite(eval_reference):
            eval_reference = None
        cost, errors, finite = (np.asarray(x)[:n] for x in stats)
        if eval_cost is not None:
            self.next_eval = (self.sequences // s.eval_every + 1) * s.eval_every
            self.eval_cost = eval_cost
            self.solved = self._below_target(eval_cost)
        self.wall += dt
        longest_skips, self.skipped_run = _skip_runs(self.skipped_run, finite)
        row = {
            "sequences": self.sequences,
            "cost_bits": float(cost[finite].mean()) if finite.any() else float("nan"),
            "bit_errors": float(errors[finite].mean()) if finite.any() else float("nan"),
            "eval_cost_bits": "" if eval_cost is None else eval_cost,
            "eval_reference_bits": "" if eval_cost is None or eval_reference is None else eval_reference,
            "seq_per_s": n * s.batch_size / dt,
            "wall_time": self.wall,
            "skipped": int(np.sum(~finite)),
        }
        _log(self.run, self.writer, row)
        if eval_cost is not None:
            improved, excess = self._improves(eval_cost, eval_reference)
            self.eval_excess = excess
            if improved:
                self.best_cost, self.best_excess = eval_cost, excess
            if self.run is not None:  # checkpoint at every evaluation; the best parameters when they improve
                params, opt_state = state()
                if improved:
                    best = {"step": self.step, "sequences": self.sequences, "wall_time": self.wall, "eval_cost": eval_cost}
                    if excess is not None:
                        best["eval_excess"] = excess
                    self.run.save_best(params, best)
                self._save(params, opt_state)
        if longest_skips >= s.max_skipped:
            self.stopped = (
                f"stopped: {longest_skips} consecutive updates had a non-finite loss or gradient "
                f"(max_skipped={s.max_skipped}); each was skipped, leaving the parameters unchanged"
            )
        elif self._time_spent():
            self.stopped = "time budget"
        return row

    def _improves(self, eval_cost: float, eval_reference: float | None) -> tuple[bool, float | None]:
        """Whether an evaluation beats the best so far, and its excess over the reference (None
        without one).  With a reference the excess decides: on a task whose sequences differ in
        how predictable they are, the lowest raw cost marks the easiest batch, not the best model."""
        if eval_reference is not None:
            excess = eval_cost - eval_reference
            return math.isfinite(excess) and (self.best_excess is None or excess < self.best_excess), excess
        return math.isfinite(eval_cost) and (self.best_cost is None or eval_cost < self.best_cost), None

    def _save(self, params, opt_state) -> None:
        _save(self.run, params, opt_state, self.step, self.sequences, self.wall, self.eval_cost, self.best_cost,
              self.best_excess, self.eval_excess)

    def close_log(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    @property
    def stop_reason(self) -> str:
        if self.solved:
            return "solved"
        if self.stopped is not None:
            return self.stopped
        return "time budget" if not self.working and self._time_spent() else "budget"

    def finish(self, params, opt_state) -> None:
        """Write the last checkpoint, if anything was trained (a run with nothing left to do leaves
        its files alone)."""
        self.close_log()
        if self.run is not None and self.step != self.start_step:
            self._save(params, opt_state)

    def result(self, model, opt_state) -> FitResult:
        return FitResult(model, opt_state, self.sequences, self.wall, self.eval_cost, self.best_cost, self.solved,
                         self.stop_reason, self.run, self.best_excess)


def until_text(settings: FitSettings) -> str:
    """What a progress bar says a run trains until."""
    s = settings
    return f"< {s.target_cost:g} bits or {s.sequences:,} seq" if s.target_cost is not None else f"{s.sequences:,} seq"


def _loop(settings: FitSettings, task, stages, loss, optimizer, params, static, opt_state, meta, run, progress):
    from tqdm.auto import tqdm

    s = settings
    base_key, eval_key = data_keys(s.seed)
    k = s.steps_per_call
    tracker = RunTracker(s, meta, run)
    devices = parallel.data_parallel_devices(s.batch_size)
    eval_devices = parallel.data_parallel_devices(s.eval_batch) if devices > 1 else 1
    params, opt_state = parallel.replicate((params, opt_state), devices)
    plan = stage_plan(stages, task, s, lambda t: UpdatesSpec(t, optimizer, loss, s.batch_size, k, devices))
    # The evaluation compiles in a thread of its own while the first training call compiles and
    # runs (XLA compiles without holding the GIL), instead of holding up training at the first
    # evaluation; its result, on the initial parameters, is not used.
    warm_up = (
        in_background(evaluate_batch, eqx.combine(params, static), eval_key, task, s.eval_batch, loss, eval_devices)
        if tracker.working else None
    )
    # With a target cost the run usually stops long before its budget, so the bar shows no total
    # (and no ETA) that would suggest otherwise.
    bar = tqdm(
        total=None if s.target_cost is not None else tracker.total_steps * s.batch_size,
        initial=min(tracker.step, tracker.total_steps) * s.batch_size, unit="seq", unit_scale=False,
        disable=not progress or not tracker.working, dynamic_ncols=True, desc=f"{task.name} (until {until_text(s)})",
    )
    try:
        while tracker.live:
            t0 = time.perf_counter()
            end, stage_spec = stage_at(plan, tracker.step)
            n = min(k, end - tracker.step)
            params, opt_state, stats = run_updates(
                eqx.combine(params, static), opt_state, base_key, jnp.asarray(tracker.step), jnp.asarray(end), stage_spec
            )
            eval_cost = eval_ref = None
            if tracker.advance(n):
                if warm_up is not None:
                    warm_up.join()
                    warm_up = None
                ec, _, ref = evaluate_batch(
                    eqx.combine(params, static), jax.random.fold_in(eval_key, tracker.step), task, s.eval_batch, loss,
                    eval_devices,
                )
                eval_cost, eval_ref = float(ec), float(ref)
            row = tracker.record(n, (stats.cost, stats.errors, stats.finite), time.perf_counter() - t0, eval_cost,
                                 lambda: (params, opt_state), eval_ref)
            bar.update(n * s.batch_size)
            bar.set_postfix(
                cost=f"{row['cost_bits']:.3f}", errors=f"{row['bit_errors']:.2f}",
                eval=f"{tracker.eval_cost:.3f}" if tracker.eval_cost is not None else "-",
                **({"above_ref": f"{tracker.eval_excess:.3f}"} if tracker.eval_excess is not None else {}),
                seq_s=f"{row['seq_per_s']:.0f}",
            )
    except KeyboardInterrupt:
        tracker.stopped = "interrupted"
    finally:
        bar.close()
        tracker.close_log()
        if warm_up is not None:
            warm_up.join()
    tracker.finish(params, opt_state)
    params, opt_state = parallel.to_first_device((params, opt_state), devices)
    return tracker.result(eqx.combine(params, static), opt_state)


def in_background(fn: Callable, *args) -> threading.Thread:
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


def _skip_runs(previous: int, finite: np.ndarray) -> tuple[int, int]:
    """``(longest, trailing)`` runs of consecutive skipped updates in ``finite`` (``[K]`` bool), where a
    run of ``previous`` skips continues from the last chunk."""
    longest = run = previous
    for ok in finite.tolist():
        run = 0 if ok else run + 1
        longest = max(longest, run)
    return longest, run


def _save(run: _runs.Run, params, opt_state, step: int, seqs: int, wall: float, eval_cost, best_cost,
          best_excess=None, eval_excess=None) -> None:
    meta = {"step": step, "sequences": seqs, "wall_time": wall, "eval_cost": eval_cost, "best_cost": best_cost,
            "best_excess": best_excess}
    if eval_excess is not None:
        meta["eval_excess"] = eval_excess
    run.save_state({"params": params, "opt": opt_state}, meta)


def _writer(run: _runs.Run | None):
    if run is None:
        return None
    try:
        from tensorboardX import SummaryWriter
    except ImportError:  # TensorBoard logs are optional
        return None
    return SummaryWriter(str(run.path))


def _log(run: _runs.Run | None, writer, row: dict[str, Any]) -> None:
    if run is None:
        return
    run.append_metrics(row)
    if writer is not None:
        for name in ("cost_bits", "bit_errors", "seq_per_s"):
            writer.add_scalar(f"train/{name}", row[name], row["sequences"])
        if row["eval_cost_bits"] != "":
            writer.add_scalar("eval/cost_bits", row["eval_cost_bits"], row["sequences"])
        if row["eval_reference_bits"] != "":
            writer.add_scalar("eval/excess_bits", row["eval_cost_bits"] - row["eval_reference_bits"], row["sequences"])
