"""The update step: cost, gradient, optimiser, one jitted program.

- :func:`make_step` builds one update for a loop of the user's own: ``step(model, opt_state,
  batch) -> (model, opt_state, stats)``.
- :func:`run_updates` runs many updates in one compiled call, each on a batch sampled inside the
  program from ``fold_in(key, step)``: what :func:`ntm.training.fit` runs.

Both skip an update whose cost or gradient is not finite (parameters and optimiser state stay as
they were; ``stats.finite`` says so), split each batch over the devices that divide it
(:mod:`ntm.training.parallel`), and compile with :func:`ntm.fast.jit`, so an NTM anywhere in the
model gets the compiler options that make it fast.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from ntm import fast
from ntm.tasks import Batch, Task
from ntm.training import parallel

__all__ = ["StepStats", "Step", "make_step", "apply", "task_loss", "trainable", "skip_nonfinite", "loss_of", "UpdatesSpec", "run_updates", "Updates", "make_updates", "evaluate_batch"]

# A loss: ``loss(model, batch) -> cost`` or ``(cost, bit_errors)``, batch means (scalars).
Loss = Callable[[Any, Batch], Any]


class StepStats(NamedTuple):
    cost: jax.Array  # the batch's mean cost (bits per sequence for the built-in tasks)
    errors: jax.Array  # mean bit errors per sequence (NaN for a loss that reports none)
    finite: jax.Array  # bool: the update was applied (its cost and gradient were finite)


def apply(model, inputs: jax.Array) -> jax.Array:
    """``[B, T, I] -> [B, T, O]`` logits: ``model.run(inputs)`` (NTM, LSTMBaseline), else ``model(inputs)``."""
    run = getattr(model, "run", None)
    return run(inputs) if callable(run) else model(inputs)


def task_loss(model, batch: Batch, task: Task) -> tuple[jax.Array, jax.Array]:
    """The task's own cost and bit errors of ``model`` on ``batch``, batch means."""
    logits = apply(model, batch.inputs)
    return jnp.mean(task.cost(logits, batch)), jnp.mean(task.bit_errors(logits, batch))


def trainable(model) -> Any:
    """A filter tree marking the arrays that are trained: every floating-point array, except where
    a submodule says otherwise with a ``trainable_filter()`` method (an NTM's fixed initial memory)."""

    def has_filter(x: Any) -> bool:
        return isinstance(x, eqx.Module) and callable(getattr(x, "trainable_filter", None))

    def flags(x: Any) -> Any:
        return x.trainable_filter() if has_filter(x) else eqx.is_inexact_array(x)

    return jax.tree_util.tree_map(flags, model, is_leaf=has_filter)


@functools.lru_cache(maxsize=None)
def skip_nonfinite(optimizer: optax.GradientTransformation) -> optax.GradientTransformation:
    """``optimizer`` that leaves parameters and state untouched on a non-finite gradient and
    counts such updates (one wrapped object per optimiser, so equal runs share a compilation)."""
    return optax.apply_if_finite(optimizer, max_consecutive_errors=10**9)


def _pair(out: Any) -> tuple[jax.Array, jax.Array]:
    if isinstance(out, tuple):
        cost, errors = out
    else:
        cost, errors = out, jnp.nan
    return jnp.asarray(cost, jnp.float32), jnp.asarray(errors, jnp.float32)


def loss_of(task: Task | None, loss: Loss | None = None) -> Loss:
    """``loss`` if given, else the task's own (:func:`task_loss`); the same object for the same
    task, so that equal runs share one compilation."""
    if loss is not None:
        return loss
    if task is None:
        raise ValueError("give a task (its cost is the loss) or a loss(model, batch)")
    return _task_loss_for(task)


@functools.lru_cache(maxsize=None)
def _task_loss_for(task: Task) -> Loss:
    return functools.partial(task_loss, task=task)


def _update(params, static, opt_state, optimizer, loss: Loss, batch: Batch, devices: int):
    """One update of the trainable ``params``; returns ``(params, opt_state, stats)``."""

    def cost_and_grads(p, b):
        def f(p):
            return _pair(loss(eqx.combine(p, static), b))

        return jax.value_and_grad(f, has_aux=True)(p)

    (cost, errors), grads = parallel.split_batch(cost_and_grads, devices)(params, batch)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    finite = jnp.isfinite(cost) & opt_state.last_finite
    return params, opt_state, StepStats(cost, errors, finite)


class Step:
    """One jitted update, for a loop of one's own (see :func:`make_step`)."""

    def __init__(self, optimizer: optax.GradientTransformation, loss: Loss, devices: int | None):
        self.optimizer = skip_nonfinite(optimizer)
        self.loss = loss
        self.devices = devices
        self._placed: set[int] = set()

    def init(self, model) -> Any:
        """The optimiser state for ``model``'s trainable arrays."""
        params, _ = eqx.partition(model, trainable(model))
        return jax.jit(self.optimizer.init)(params)

    def __call__(self, model, opt_state, batch: Batch):
        """``(model, opt_state, stats)`` after one update on ``batch``."""
        devices = self.devices or parallel.data_parallel_devices(batch.inputs.shape[0])
        if devices > 1:
            if devices not in self._placed:  # later calls get back what the update returns
                model, opt_state = parallel.replicate((model, opt_state), devices)
                self._placed.add(devices)
            batch = parallel.shard_batch(batch, devices)
        return _jitted_step(model, opt_state, batch, self.optimizer, self.loss, devices)


@fast.jit(filter=True)
def _jitted_step(model, opt_state, batch, optimizer, loss, devices):
    params, static = eqx.partition(model, trainable(model))
    params, opt_state, stats = _update(params, static, opt_state, optimizer, loss, batch, devices)
    return eqx.combine(params, static), opt_state, stats


def make_step(
    optimizer: optax.GradientTransformation,
    task: Task | None = None,
    *,
    loss: Loss | None = None,
    devices: int | None = None,
) -> Step:
    """Build the update step alone, for users who write their own loop.

        step = ntm.training.make_step(optax.adam(3e-3), task)
        opt_state = step.init(model)
        for i in range(1000):
            batch = task.sample(jax.random.fold_in(key, i), 8)
            model, opt_state, stats = step(model, opt_state, batch)

    Args:
        optimizer: any optax transformation (clipping included, if wanted).
        task: its :meth:`~ntm.tasks.Task.cost` is the loss, unless ``loss`` is given.
        loss: ``loss(model, batch) -> cost`` or ``(cost, bit_errors)``, batch means.
        devices: how many devices share each batch; default: as many as divide it
            (:func:`ntm.training.data_parallel_devices`).

    The optimiser state must come from ``step.init(model)`` (it counts skipped updates).  Only
    the model's trainable arrays are updated (:func:`trainable`).  The returned model lives on
    the devices that share the batch; pass it back in as it is.
    """
    return Step(optimizer, loss_of(task, loss), devices)


class UpdatesSpec(NamedTuple):
    """Everything static about a call of :func:`run_updates`: equal specs share one compilation."""

    task: Task
    optimizer: optax.GradientTransformation  # already wrapped by skip_nonfinite
    loss: Loss
    batch_size: int
    num_steps: int
    devices: int = 1


@fast.jit(filter=True)
def run_updates(model, opt_state, key: jax.Array, start: jax.Array, end: jax.Array, spec: UpdatesSpec):
    """Updates for steps ``start .. start + spec.num_steps - 1``; steps ``>= end`` are no-ops.

    Step ``s`` trains on the batch ``spec.task.sample(fold_in(key, s), spec.batch_size)``, drawn
    inside the program.  Every call has the same shape, so a run compiles once, and the result of
    a stretch of steps does not depend on how it is cut into calls: a resumed run equals an
    uninterrupted one bit for bit.

    Returns:
        ``(params, opt_state, stats)``: the trainable arrays, the optimiser state, and
        :class:`StepStats` with fields ``[num_steps]`` (zeros where skipped).
    """
    params, static = eqx.partition(model, trainable(model))
    steps = start + jnp.arange(spec.num_steps)

    def apply_one(carry, step):
        params, opt_state = carry
        batch = spec.task.sample(jax.random.fold_in(key, step), spec.batch_size)
        params, opt_state, stats = _update(params, static, opt_state, spec.optimizer, spec.loss, batch, spec.devices)
        return (params, opt_state), stats

    def skip(carry, step):
        return carry, StepStats(jnp.float32(0.0), jnp.float32(0.0), jnp.bool_(True))

    def one(carry, step):
        return jax.lax.cond(step < end, apply_one, skip, carry, step)

    (params, opt_state), stats = jax.lax.scan(one, (params, opt_state), steps)
    return params, opt_state, stats


class Updates:
    """Many updates per compiled call, batches sampled inside (see :func:`make_updates`)."""

    def __init__(self, spec: UpdatesSpec, key: jax.Array):
        self.spec, self.key = spec, key

    def init(self, model) -> tuple[Any, Any]:
        """``(model, opt_state)`` laid out on the devices that share each batch."""
        params = eqx.filter(model, trainable(model))
        opt_state = jax.jit(self.spec.optimizer.init)(params)
        return parallel.replicate((model, opt_state), self.spec.devices)

    def __call__(self, model, opt_state, start: int):
        """``(model, opt_state, stats)`` after updates ``start .. start + num_steps - 1``."""
        n = self.spec.num_steps
        params, opt_state, stats = run_updates(
            model, opt_state, self.key, jnp.asarray(start), jnp.asarray(start + n), self.spec
        )
        return eqx.combine(params, eqx.filter(model, trainable(model), inverse=True)), opt_state, stats


def make_updates(
    optimizer: optax.GradientTransformation,
    task: Task,
    *,
    batch_size: int,
    num_steps: int,
    key: jax.Array,
    loss: Loss | None = None,
    devices: int | None = None,
) -> Updates:
    """The compiled call that :func:`~ntm.training.fit` makes, for loops that want its speed:
    ``num_steps`` updates per call, update ``s`` on ``task.sample(fold_in(key, s), batch_size)``.

        updates = ntm.training.step.make_updates(optax.adam(3e-3), task, batch_size=8, num_steps=32,
                                                 key=jax.random.key(0))
        model, opt_state = updates.init(model)
        for start in range(0, 3200, 32):
            model, opt_state, stats = updates(model, opt_state, start)   # stats fields: [32]
    """
    devices = devices or parallel.data_parallel_devices(batch_size)
    spec = UpdatesSpec(task, skip_nonfinite(optimizer), loss_of(task, loss), batch_size, num_steps, devices)
    return Updates(spec, key)


@fast.jit(filter=True)
def evaluate_batch(model, key: jax.Array, task: Task, batch_size: int, loss: Loss, devices: int = 1):
    """``(cost, errors, reference)``: the mean cost and bit errors of ``model`` on one fresh batch
    from the task's training range, split over ``devices`` devices as the training batches are,
    and the mean of the task's :meth:`~ntm.tasks.Task.reference_cost` on the same batch (NaN for
    a task without one)."""
    params, static = eqx.partition(model, trainable(model))
    batch = task.sample(key, batch_size)
    cost, errors = parallel.split_batch(lambda p, b: _pair(loss(eqx.combine(p, static), b)), devices)(params, batch)
    ref = task.reference_cost(batch)
    return cost, errors, jnp.asarray(jnp.nan if ref is None else jnp.mean(ref), jnp.float32)
