"""Ensembles: K independent models trained in one compiled program, vmapped over the members.

    results = ntm.training.fit_ensemble(
        lambda seed: ntm.build_model(ntm.model_config(task, "ntm-ff"), jax.random.key(seed)),
        task, optax.chain(optax.clip(10.0), optax.rmsprop(3e-4)), seeds=range(8), batch_size=1,
        runs="runs")                       # runs/copy-ntm-ff-seed0 ... runs/copy-ntm-ff-seed7
    [r.sequences for r in results], [r.stop_reason for r in results]

A batch-1 learner leaves most of a core idle: its every operation is a few hundred floats.  Eight
of them in one program (``eqx.filter_vmap`` over stacked parameters and optimiser states) turn
each matrix-vector product into eight, in one operation, and one compiled call advances every
member.  Each member is exactly a run of :func:`~ntm.training.fit` of its own, up to float
rounding (tested): member ``s`` trains on the batches ``fit(..., seed=s)`` draws, skips its own
non-finite updates (its own ``optax.apply_if_finite`` state), evaluates on the same fresh
batches, stops on its own target, budget or run of skipped updates, and writes its own run
directory (the layout of ``ntm train``: config.json with its seed, checkpoints last and best,
metrics.csv), so every command that reads a run, and ``ntm train --resume`` or ``fit(...,
resume=True)`` on one member, works on a member as on any run.

Members are the parallelism: no batch is split over devices.  Where JAX has several devices (the
``ntm`` command makes one per core, :func:`ntm.fast.configure_cpu`), the members are split over
them instead, as many devices as divide the number of members, with no communication between
them; with one device the whole ensemble runs there.

A member that stops (solved, out of budget, or stopped by non-finite updates) stands still in the
program, its updates masked, until at most half the program's members train on; then the program
is rebuilt with only those (``_Program.shrunk`` says why: few compilations, bounded waste).

Learning rates (or any hyperparameter) may differ per member: build the optimiser with
``optax.inject_hyperparams`` and pass ``hyperparams=[{"learning_rate": 1e-3}, ...]``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ntm import fast, presets
from ntm import runs as _runs
from ntm import tasks as _tasks
from ntm.training import parallel
from ntm.training.loop import (
    FitResult,
    FitSettings,
    RunTracker,
    Stage,
    as_run,
    check_curriculum,
    data_keys,
    in_background,
    new_meta,
    prepare_run,
    run_record,
    stage_at,
    stage_plan,
    until_text,
)
from ntm.training.step import Loss, UpdatesSpec, evaluate_batch, loss_of, run_updates, skip_nonfinite, trainable

__all__ = ["fit_ensemble", "train_ensemble", "make_ensemble_updates", "EnsembleUpdates", "ensemble_updates",
           "ensemble_evaluate"]


def _over_members(fn: Callable, devices: int) -> Callable:
    """``fn(*trees)`` (vmapped over the leading member axis of every array) with the members split
    over ``devices`` devices; ``fn`` itself for one.  The members never talk to each other, so
    each device just runs its share."""
    if devices == 1:
        return fn
    from jax.sharding import PartitionSpec

    def split(*args):
        arrays, static = eqx.partition(args, eqx.is_array)
        # check_vma=False: as in parallel.split_batch, the scan carries start from inputs and the
        # checker would reject them; every output is per member, so nothing is replicated.
        return jax.shard_map(
            lambda arrays: fn(*eqx.combine(arrays, static)), mesh=parallel.batch_mesh(devices),
            in_specs=(PartitionSpec("batch"),), out_specs=PartitionSpec("batch"), check_vma=False,
        )(arrays)

    return split


@fast.jit(filter=True)
def ensemble_updates(models, opt_states, keys, starts, ends, spec: UpdatesSpec, devices: int = 1):
    """:func:`~ntm.training.step.run_updates` for every member at once: ``models``, ``opt_states``,
    ``keys``, ``starts`` and ``ends`` stacked over members (leading axis ``[P]``); member ``p``
    runs updates ``starts[p] ..`` on batches from ``fold_in(keys[p], step)``, and its steps
    ``>= ends[p]`` are no-ops (``ends[p] == starts[p]``: the member stands still).

    Returns ``(params, opt_states, stats)`` stacked over members (stats fields ``[P, num_steps]``).
    (``ntm.fast.jit(filter=True)``: a stacked NTM is still an NTM, so the program gets the NTM
    compiler options, and the wrapped, unjitted update is what is vmapped.)
    """

    def member(model, opt_state, key, start, end):
        return run_updates.__wrapped__(model, opt_state, key, start, end, spec)

    return _over_members(eqx.filter_vmap(member), devices)(models, opt_states, keys, starts, ends)


@fast.jit(filter=True)
def ensemble_evaluate(models, keys, steps, task: _tasks.Task, batch_size: int, loss: Loss, devices: int = 1):
    """``(cost, errors, reference)``, each ``[P]``: each member's mean cost and bit errors on its own
    fresh batch from ``fold_in(keys[p], steps[p])``, and the task's reference cost on that batch,
    as :func:`~ntm.training.step.evaluate_batch` gives a run."""

    def member(model, key, step):
        return evaluate_batch.__wrapped__(model, jax.random.fold_in(key, step), task, batch_size, loss)

    return _over_members(eqx.filter_vmap(member), devices)(models, keys, steps)


def _stack(trees: Sequence[Any]) -> Any:
    """The members' trees as one: arrays stacked on a new leading axis, everything else the first's."""
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs) if eqx.is_array(xs[0]) else xs[0], *trees)


def _take(tree: Any, index) -> Any:
    """Member ``index`` (an int), or the members ``index`` (an index array), of a stacked tree."""
    return jax.tree_util.tree_map(lambda x: x[index] if eqx.is_array(x) else x, tree)


def _place(tree: Any, devices: int) -> Any:
    """A stacked tree laid out with its members split over the first ``devices`` devices."""
    from jax.sharding import NamedSharding, PartitionSpec

    arrays, static = eqx.partition(tree, eqx.is_array)
    where = (jax.local_devices()[0] if devices == 1
             else NamedSharding(parallel.batch_mesh(devices), PartitionSpec("batch")))
    return eqx.combine(jax.device_put(arrays, where), static)


class _Program:
    """The members the compiled program runs: which (``slots``: member numbers), their stacked
    state and data keys, and the devices they are split over."""

    def __init__(self, slots: list[int], params, rest, opts, base_keys, eval_keys, available: int):
        self.slots = slots
        self.available = available
        self.devices = fast.split_count(len(slots), available)
        self.params, self.rest, self.opts, self.base_keys, self.eval_keys = _place(
            (params, rest, opts, base_keys, eval_keys), self.devices
        )

    @classmethod
    def of(cls, slots, params, rests, opts, base_keys, eval_keys, available) -> "_Program":
        pick = lambda xs: _stack([xs[i] for i in slots])  # noqa: E731
        index = np.asarray(slots)
        return cls(slots, pick(params), pick(rests), pick(opts), base_keys[index], eval_keys[index], available)

    def model(self):
        return eqx.combine(self.params, self.rest)

    def member(self, j: int) -> tuple[Any, Any]:
        """``(params, opt_state)`` of the member in slot ``j``, on one device."""
        return jax.device_put(_take((self.params, self.opts), j), jax.local_devices()[0])

    def shrunk(self, live: list[int]) -> "_Program":
        """This program, or once at most half its members train on (the slots ``live``), one of only
        those, padded with stopped members to a multiple of the devices.

        A member that stops stays in the program at first, its updates masked: under vmap the
        update's ``lax.cond`` becomes a select, so a stopped member costs as much compute as a live
        one.  Rebuilding the program at every stop would instead compile a program per number of
        members (K - 1 compilations, each many seconds for the paper's sizes, though the ``ntm``
        command keeps them on disk).  Halving does both: at most log2(K) compilations, and the
        live members never pay for more than as many stopped ones again.
        """
        if not live or len(live) > len(self.slots) // 2:
            return self
        size = -(-len(live) // self.available) * self.available
        if size >= len(self.slots):
            return self
        keep = sorted(live + [j for j in range(len(self.slots)) if j not in live][: size - len(live)])
        index = np.asarray(keep)
        params, rest, opts, base_keys, eval_keys = _take(
            (self.params, self.rest, self.opts, self.base_keys, self.eval_keys), index
        )
        return _Program([self.slots[j] for j in keep], params, rest, opts, base_keys, eval_keys, self.available)


class EnsembleUpdates:
    """Many updates of every member per compiled call (see :func:`make_ensemble_updates`)."""

    def __init__(self, spec: UpdatesSpec, keys: jax.Array, devices: int):
        self.spec, self.devices = spec, devices
        self.keys = _place(keys, devices)

    def init(self, models: Sequence[eqx.Module]) -> tuple[Any, Any]:
        """``(model, opt_states)``: the members stacked into one model, and their optimiser states,
        laid out over the devices."""
        members = list(models)
        _check_members(members)
        stacked = _stack(members)
        init = jax.jit(self.spec.optimizer.init)
        opt_states = _stack([init(eqx.filter(m, trainable(m))) for m in members])
        return _place((stacked, opt_states), self.devices)

    def __call__(self, model, opt_states, start: int):
        """``(model, opt_states, stats)`` after updates ``start .. start + num_steps - 1`` of every
        member (stats fields ``[members, num_steps]``)."""
        n = self.spec.num_steps
        starts = jnp.full(self.keys.shape, start)
        params, opt_states, stats = ensemble_updates(model, opt_states, self.keys, starts, starts + n, self.spec,
                                                     self.devices)
        return eqx.combine(params, eqx.filter(model, trainable(model), inverse=True)), opt_states, stats


def make_ensemble_updates(
    optimizer: optax.GradientTransformation,
    task: _tasks.Task,
    *,
    seeds: Sequence[int],
    batch_size: int,
    num_steps: int,
    loss: Loss | None = None,
    devices: int | None = None,
) -> EnsembleUpdates:
    """The compiled call that :func:`fit_ensemble` makes, for loops of one's own: ``num_steps``
    updates of every member per call, member ``s``'s update ``t`` on the batch ``fit(...,
    seed=s)`` draws, the members split over ``devices`` devices (default: as many local devices
    as divide their number).

        updates = ntm.training.ensemble.make_ensemble_updates(optimizer, task, seeds=range(8),
                                                               batch_size=1, num_steps=256)
        model, opt_states = updates.init([build(s) for s in range(8)])
        for start in range(0, 2560, 256):
            model, opt_states, stats = updates(model, opt_states, start)   # stats fields: [8, 256]
    """
    seeds = list(seeds)
    devices = devices or fast.split_count(len(seeds), jax.local_device_count())
    spec = UpdatesSpec(task, skip_nonfinite(optimizer), loss_of(task, loss), batch_size, num_steps, 1)
    return EnsembleUpdates(spec, jnp.stack([data_keys(s)[0] for s in seeds]), devices)


def _check_members(models: list) -> None:
    arrays0, static0 = eqx.partition(models[0], eqx.is_array)
    shapes0 = [(x.shape, x.dtype) for x in jax.tree_util.tree_leaves(arrays0)]
    for i, model in enumerate(models[1:], 1):
        arrays, static = eqx.partition(model, eqx.is_array)
        shapes = [(x.shape, x.dtype) for x in jax.tree_util.tree_leaves(arrays)]
        same = jax.tree_util.tree_structure(arrays) == jax.tree_util.tree_structure(arrays0) and shapes == shapes0
        if not (same and eqx.tree_equal(static, static0)):
            raise ValueError(
                f"models[{i}] differs from models[0] in its structure, shapes or settings; the members of an "
                f"ensemble are one model with other parameters"
            )


def _with_hyperparams(opt_state, values: dict[str, float]):
    """``opt_state`` with the injected hyperparameters ``values`` set (``optax.inject_hyperparams``)."""
    if not values:
        return opt_state
    kinds = (optax.InjectHyperparamsState, optax.InjectStatefulHyperparamsState)
    found: set[str] = set()

    def set_values(x):
        if not isinstance(x, kinds):
            return x
        hp = dict(x.hyperparams)
        for name, value in values.items():
            if name in hp:
                hp[name] = jnp.asarray(value, jnp.asarray(hp[name]).dtype)
                found.add(name)
        return x._replace(hyperparams=hp)

    out = jax.tree_util.tree_map(set_values, opt_state, is_leaf=lambda x: isinstance(x, kinds))
    missing = sorted(set(values) - found)
    if missing:
        raise ValueError(
            f"hyperparams: the optimiser has no injected hyperparameter {', '.join(missing)}; build it with "
            f"optax.inject_hyperparams(...) to vary it per member"
        )
    return out


def _member_name(task: _tasks.Task, model, seed: int, hyperparams: dict[str, float]) -> str:
    """``TASK-MODEL-seedS`` (as ``ntm train`` names a run), with ``-NAMEVALUE`` per hyperparameter set."""
    extra = "".join(f"-{k}{v:g}" for k, v in sorted(hyperparams.items()))
    return f"{task.name}-{_runs.model_name(model)}-seed{seed}{extra}"


def _member_runs(runs, task, models, seeds, hyperparams) -> list[_runs.Run | None]:
    if runs is None:
        return [None] * len(seeds)
    if isinstance(runs, (str, Path)):
        paths: list[Any] = [Path(runs) / _member_name(task, m, s, h) for m, s, h in zip(models, seeds, hyperparams)]
    else:
        paths = list(runs)
        if len(paths) != len(seeds):
            raise ValueError(f"runs: {len(paths)} run directories for {len(seeds)} members")
    out = [as_run(p) for p in paths]
    where = [r.path.resolve() for r in out]
    if len(set(where)) != len(where):
        raise ValueError("runs: two members would write the same run directory (give each its own seed, or a list of directories)")
    return out


def fit_ensemble(
    models: Sequence[eqx.Module] | Callable[[int], eqx.Module],
    task: _tasks.Task,
    optimizer: optax.GradientTransformation,
    *,
    seeds: Sequence[int],
    batch_size: int = 1,
    sequences: int = 200_000,
    target_cost: float | None = 0.05,
    eval_every: int = 1_000,
    eval_batch: int = 256,
    time_budget: float | None = None,
    max_skipped: int = 100,
    curriculum: Sequence[Stage] = (),
    loss: Loss | None = None,
    runs: str | Path | Sequence[str | Path | _runs.Run] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    steps_per_call: int = 0,
    progress: bool = True,
    records: Sequence[dict[str, Any]] | None = None,
    hyperparams: Sequence[dict[str, float]] | None = None,
    devices: int | None = None,
) -> list[FitResult]:
    """Train one member per seed, all in one compiled program; one :class:`~ntm.training.FitResult` each.

    Member ``i`` is the run ``fit(models[i], task, optimizer, seed=seeds[i], ...)`` with the same
    settings, up to float rounding: the same batches, evaluations, checkpoints, log and stopping.

    Args:
        models: one model per member (the same model, other parameters), or ``build(seed) -> model``.
        task, optimizer, batch_size, sequences, target_cost, eval_every, eval_batch, time_budget,
            max_skipped, curriculum, loss, steps_per_call: as for :func:`~ntm.training.fit`, for
            every member (``time_budget`` counts the ensemble's seconds while a member trains).
        seeds: each member's data seed (update ``t`` of member ``s`` trains on the batch from
            ``fold_in(fold_in(key(s), 1), t)``).
        runs: None (nothing written); a root directory, with a run directory per member named as
            ``ntm train`` names one (``ROOT/TASK-MODEL-seedS``); or one directory per member.
        resume: continue each member from its last checkpoint (a member without one starts anew;
            one with nothing left to do stands still); a member resumed alone by
            :func:`~ntm.training.fit` meanwhile is fine too.
        overwrite: replace runs already in the members' directories instead of refusing.
        progress: one bar for the ensemble, showing how many members are solved.
        records: extra config.json sections per member (the command line stores its config).
        hyperparams: per member, values of hyperparameters injected into ``optimizer`` with
            ``optax.inject_hyperparams`` (e.g. ``{"learning_rate": 3e-4}``); a resumed member
            keeps those of its checkpoint.
        devices: how many devices the members may be split over (default: all local devices).

    Raises:
        ValueError: a bad setting, models that differ in structure, or two members with one directory.
        ntm.runs.RunError: a member's directory holds another run, is being written, or does not
            match what is resumed; then no directory has been changed.
    """
    seeds = list(seeds)
    if not seeds or any(not isinstance(s, int) or isinstance(s, bool) for s in seeds):
        raise ValueError(f"seeds must be a non-empty sequence of integers, got {seeds!r}")
    if isinstance(models, eqx.Module):
        raise ValueError("models: give one model per member, or a function seed -> model")
    members = list(models) if isinstance(models, (list, tuple)) else [models(s) for s in seeds]
    if len(members) != len(seeds):
        raise ValueError(f"models: {len(members)} models for {len(seeds)} seeds")
    if not isinstance(task, _tasks.Task):
        raise ValueError(f"task must be an ntm.tasks.Task, got {type(task).__name__}")
    settings = [
        FitSettings(batch_size, sequences, s, target_cost, eval_every, eval_batch, time_budget, max_skipped,
                    steps_per_call).check()
        for s in seeds
    ]
    hyper = [dict(h) for h in hyperparams] if hyperparams is not None else [{} for _ in seeds]
    if len(hyper) != len(seeds) or (records is not None and len(records) != len(seeds)):
        raise ValueError("hyperparams and records, when given, need one entry per member")
    if devices is not None and (not isinstance(devices, int) or not 1 <= devices <= jax.local_device_count()):
        raise ValueError(f"devices must be between 1 and {jax.local_device_count()}, got {devices!r}")
    if resume and runs is None:
        raise ValueError("resume=True needs the members' run directories (runs=...)")
    stages = check_curriculum(curriculum, task)
    loss = loss_of(task, loss)
    wrapped = skip_nonfinite(optimizer)
    _check_members(members)
    member_runs = _member_runs(runs, task, members, seeds, hyper)

    init = jax.jit(wrapped.init)  # one compiled program for every member
    parts = [eqx.partition(m, trainable(m)) for m in members]
    params = [p for p, _ in parts]
    rests = [r for _, r in parts]
    opts = [_with_hyperparams(init(p), h) for p, h in zip(params, hyper)]
    metas = [new_meta() for _ in seeds]
    with contextlib.ExitStack() as locks:
        writes = []
        for i, run in enumerate(member_runs):
            if run is None:
                continue
            locks.enter_context(run.lock())
            data = {**run_record(members[i], task, settings[i], stages),
                    "ensemble": {"seeds": seeds, "member": i, "hyperparams": hyper[i]}, **(records[i] if records else {})}
            params[i], opts[i], metas[i], write = prepare_run(
                run, data, members[i], task, settings[i], stages, params[i], opts[i], resume, overwrite
            )
            writes.append(write)
        for write in writes:  # every directory checked before any is changed
            write()
        return _loop(settings, task, stages, loss, wrapped, params, rests, opts, metas, member_runs, progress,
                     devices or jax.local_device_count())


def _loop(settings, task, stages, loss, optimizer, params, rests, opts, metas, member_runs, progress, available):
    from tqdm.auto import tqdm

    K, s0 = len(settings), settings[0]
    k = s0.steps_per_call
    trackers = [RunTracker(s, m, r) for s, m, r in zip(settings, metas, member_runs)]
    keys = [data_keys(s.seed) for s in settings]
    base_keys, eval_keys = jnp.stack([a for a, _ in keys]), jnp.stack([b for _, b in keys])
    # Every member's batches are its own, so no batch is split over devices (devices=1).
    plan = stage_plan(stages, task, s0, lambda t: UpdatesSpec(t, optimizer, loss, s0.batch_size, k, 1))
    final: dict[int, tuple[Any, Any]] = {i: (params[i], opts[i]) for i in range(K) if not trackers[i].live}
    slots = [i for i in range(K) if trackers[i].live]
    program = _Program.of(slots, params, rests, opts, base_keys, eval_keys, available) if slots else None
    warm_up = None
    if program is not None:  # the evaluation compiles while the first training call does (as fit's)
        steps0 = jnp.asarray([trackers[i].step for i in slots])
        warm_up = in_background(ensemble_evaluate, program.model(), program.eval_keys, steps0, task, s0.eval_batch,
                                loss, program.devices)
    batch = s0.batch_size
    bar = tqdm(
        total=None if s0.target_cost is not None else sum(t.total_steps for t in trackers) * batch,
        initial=sum(min(t.step, t.total_steps) for t in trackers) * batch, unit="seq", unit_scale=False,
        disable=not progress or program is None, dynamic_ncols=True,
        desc=f"{task.name} x{K} (until {until_text(s0)} each)",
    )
    try:
        while program is not None and any(trackers[i].live for i in program.slots):
            t0 = time.perf_counter()
            live = [j for j, i in enumerate(program.slots) if trackers[i].live]
            starts = [trackers[i].step for i in program.slots]
            ends, counts, spec = list(starts), {}, None
            for j in live:
                step = starts[j]
                end, member_spec = stage_at(plan, step)
                if spec is not None and member_spec is not spec:
                    raise ValueError(
                        "the members stand in different curriculum stages (one was resumed alone?); "
                        "resume them one by one"
                    )
                spec, ends[j], counts[j] = member_spec, end, min(k, end - step)
            program.params, program.opts, stats = ensemble_updates(
                program.model(), program.opts, program.base_keys, jnp.asarray(starts), jnp.asarray(ends), spec,
                program.devices,
            )
            due = [j for j in live if trackers[program.slots[j]].advance(counts[j])]
            evals: dict[int, tuple[float, float]] = {}  # slot: (cost, reference)
            if due:
                if warm_up is not None:
                    warm_up.join()
                    warm_up = None
                steps = jnp.asarray([trackers[i].step for i in program.slots])
                ec, _, ref = ensemble_evaluate(program.model(), program.eval_keys, steps, task, s0.eval_batch,
                                               loss, program.devices)
                ec, ref = np.asarray(ec), np.asarray(ref)
                evals = {j: (float(ec[j]), float(ref[j])) for j in due}
            dt = time.perf_counter() - t0
            cost, errors, finite = (np.asarray(x) for x in (stats.cost, stats.errors, stats.finite))
            rows = []
            for j in live:
                i = program.slots[j]
                ec_j, ref_j = evals.get(j, (None, None))
                rows.append(trackers[i].record(counts[j], (cost[j], errors[j], finite[j]), dt, ec_j,
                                               lambda j=j: program.member(j), ref_j))
                if not trackers[i].live:
                    final[i] = program.member(j)
            bar.update(sum(counts.values()) * batch)
            evaluated = [t.eval_cost for t in trackers if t.eval_cost is not None]
            bar.set_postfix(
                solved=f"{sum(t.solved for t in trackers)}/{K}",
                cost=f"{np.nanmean([r['cost_bits'] for r in rows]):.3f}",
                eval=f"{min(evaluated):.3f}-{max(evaluated):.3f}" if evaluated else "-",
                seq_s=f"{sum(counts.values()) * batch / dt:.0f}",
            )
            program = program.shrunk([j for j, i in enumerate(program.slots) if trackers[i].live])
    except KeyboardInterrupt:
        for t in trackers:
            if t.live:
                t.stopped = "interrupted"
    finally:
        bar.close()
        for t in trackers:
            t.close_log()
        if warm_up is not None:
            warm_up.join()
    if program is not None:
        for j, i in enumerate(program.slots):
            if i not in final:
                final[i] = program.member(j)
    results = []
    for i, t in enumerate(trackers):
        p, o = final[i]
        t.finish(p, o)
        results.append(t.result(eqx.combine(p, rests[i]), o))
    return results


def train_ensemble(
    configs: Sequence[Any],
    out_dirs: str | Path | Sequence[str | Path] | None = None,
    *,
    progress: bool = True,
    overwrite: bool = False,
    resume: bool = False,
) -> list[FitResult]:
    """:func:`fit_ensemble` from :class:`~ntm.training.TrainConfig` s that differ only in their seed,
    each member's run directory recording its own config (so ``ntm train --resume`` continues it
    alone, as it would a run of ``ntm train``).

    Raises:
        ValueError: a bad configuration, or configurations that differ in more than the seed.
        ntm.runs.RunError: as :func:`fit_ensemble`.
    """
    cfgs = [c.resolved() for c in configs]
    if not cfgs:
        raise ValueError("an ensemble needs at least one config")
    first = dataclasses.replace(cfgs[0], seed=0)
    for c in cfgs[1:]:
        if dataclasses.replace(c, seed=0) != first:
            raise ValueError("the configs of an ensemble must differ only in their seed")
    kwargs = cfgs[0].fit_kwargs()
    del kwargs["seed"]
    task = cfgs[0].task_obj()
    models = [presets.build_model(c.model_config(), jax.random.key(c.seed)) for c in cfgs]
    if resume and out_dirs is not None:
        # A member resumed from a run saved before a model field existed keeps the value it was
        # trained with (presets.as_trained), not today's default.
        for i, run in enumerate(_member_runs(out_dirs, task, models, [c.seed for c in cfgs], [{}] * len(cfgs))):
            if run is not None and run.exists():
                trained = presets.as_trained(models[i].config, run.config["model"])
                if trained != models[i].config:
                    models[i] = presets.build_model(trained, jax.random.key(cfgs[i].seed))
    return fit_ensemble(
        models, task, cfgs[0].optimizer_obj(), seeds=[c.seed for c in cfgs], **kwargs, runs=out_dirs,
        resume=resume, overwrite=overwrite, progress=progress, records=[{"train": c.to_dict()} for c in cfgs],
    )
