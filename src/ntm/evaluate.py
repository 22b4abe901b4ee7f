"""Evaluation on fresh data at fixed sizes, and length-generalisation sweeps (paper section 4).

The paper trains on short sequences and tests on longer ones (copy: trained on lengths 1-20,
tested up to 120). :func:`evaluate` scores one size; :func:`sweep` scores a list of sizes (for
repeat copy, a grid of lengths x repeat counts). Each size is compiled once (shapes differ per size).

Legend: B batch, T time, I input channels, O output channels, R read heads, W write heads,
N memory rows, M row width.

    run = ntm.runs.Run("runs/copy-ntm-ff-seed0")
    model, _ = run.load_model()                  # the best checkpoint
    evaluate(model, run.task(), 120, batch_size=64, key=jax.random.key(0))
    # -> {'length': 120, 'label': 'length 120', 'cost_bits': ..., 'bit_errors': ..., 'bit_error_rate': ..., 'sequences': 64}
    sweep(model, "repeat_copy", [10, 20], repeats=[10, 20], key=jax.random.key(0))  # 4 records

A "size" (``length``, ``repeats``) is an int, or an inclusive ``(lo, hi)`` pair drawn per sequence
(the training range, say); records hold pairs as ``[lo, hi]`` lists so they serialise as JSON.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ntm import fast
from ntm import tasks as _tasks

__all__ = ["evaluate", "sweep", "default_lengths", "default_repeats", "sample_trace", "SequenceTrace"]

def _task(task: str | _tasks.Task) -> _tasks.Task:
    return _tasks.get(task) if isinstance(task, str) else task


def default_lengths(task: str | _tasks.Task) -> list:
    """The fixed main sizes of the task's default generalisation points
    (:meth:`ntm.tasks.Task.eval_points`; ranges, such as repeat copy's training range, left out)."""
    out = []
    for point in _task(task).eval_points():
        if not isinstance(point["length"], (tuple, list)) and point["length"] not in out:
            out.append(point["length"])
    return out


def default_repeats(task: str | _tasks.Task) -> list | None:
    """Repeat counts of the default points (repeat copy: 10, 20); None for tasks without repeats."""
    t = _task(task)
    if "repeats" not in t.extra_sizes:
        return None
    out = []
    for point in t.eval_points():
        if not isinstance(point.get("repeats"), (tuple, list)) and point.get("repeats") not in out:
            out.append(point["repeats"])
    return out


@fast.jit(filter=True)
def _score(model, batch: _tasks.Batch, task: _tasks.Task):
    """The task's per-sequence scores (each ``[B]``) and the number of scored bits (a scalar)."""
    from ntm.training.step import apply

    scores = task.scores(apply(model, batch.inputs), batch)
    return scores, jnp.sum(batch.mask) * batch.targets.shape[-1]


def _json_size(size: Any) -> Any:
    return [int(size[0]), int(size[1])] if isinstance(size, (tuple, list)) else size


def _sample(task: _tasks.Task, key: jax.Array, batch_size: int, length: Any, kw: dict[str, Any]) -> _tasks.Batch:
    try:
        return task.sample(key, batch_size, length, **kw)
    except TypeError as exc:  # a size the task does not have, e.g. repeats for copy
        raise ValueError(f"{task.name}: {', '.join(kw)} does not apply to this task ({exc})") from None


def evaluate(
    model: eqx.Module,
    task: str | _tasks.Task,
    length: int | tuple[int, int],
    *,
    batch_size: int = 64,
    key: jax.Array,
    **kw: Any,
) -> dict[str, Any]:
    """Score ``model`` on ``batch_size`` fresh sequences of one size.

    Args:
        model: anything with ``run(inputs [B, T, I]) -> logits [B, T, O]`` (an NTM or the baseline).
        task: a task or its name.
        length: the task's main size (sequence length; number of items for associative recall),
            an int or an inclusive ``(lo, hi)`` range.
        batch_size: number of sequences.
        key: PRNG key for the data.
        **kw: other sizes of the task's ``sample`` (``repeats=`` for repeat copy).

    Returns:
        A JSON-ready dict: ``length``, the ``kw`` sizes, ``label`` (:meth:`~ntm.tasks.Task.point_label`),
        ``cost_bits`` (mean bits per sequence), ``bit_errors`` (mean wrong bits per sequence),
        ``bit_error_rate`` (wrong bits / scored bits), ``sequences``, and the means of any other
        scores the task reports (dynamic n-grams: ``optimal_cost_bits``, the Bayes-optimal
        predictor's cost on the same sequences, eq. 10).

    Raises:
        ValueError: a size the task rejects or does not have.
    """
    t = _task(task)
    batch = _sample(t, key, batch_size, length, kw)
    scores, scored = _score(model, batch, t)
    scores = {name: np.asarray(v, np.float64) for name, v in scores.items()}
    record: dict[str, Any] = {"length": _json_size(length)}
    record.update({name: _json_size(value) for name, value in kw.items()})
    record["label"] = t.point_label({"length": length, **kw})
    record.update(
        cost_bits=float(scores["cost_bits"].mean()),
        bit_errors=float(scores["bit_errors"].mean()),
        bit_error_rate=float(scores["bit_errors"].sum() / max(float(scored), 1.0)),
        sequences=int(batch_size),
    )
    record.update({name: float(v.mean()) for name, v in scores.items() if name not in record})
    return record


def _size_key(key: jax.Array, size: Any) -> jax.Array:
    """Fold a size into the key, so a size's data does not depend on what else the sweep holds."""
    lo, hi = (size, size) if not isinstance(size, (tuple, list)) else size
    return jax.random.fold_in(jax.random.fold_in(key, int(lo)), int(hi))


def sweep(
    model: eqx.Module,
    task: str | _tasks.Task,
    lengths: list | None = None,
    *,
    repeats: list | None = None,
    batch_size: int = 64,
    key: jax.Array,
    callback: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """:func:`evaluate` at every size in ``lengths`` (x every count in ``repeats``, for repeat copy).

    Args:
        model, task, batch_size: as for :func:`evaluate`.
        lengths: main sizes (ints or ``(lo, hi)`` ranges).
        repeats: repeat counts, repeat copy only.  With neither given, the task's own
            :meth:`~ntm.tasks.Task.eval_points`; with one given, the other defaults to the main
            sizes (or repeats) of those points.
        key: PRNG key; each size gets its own key derived from its value.
        callback: called with each record as soon as it is computed (to show progress).

    Returns:
        One record per size, lengths outermost.  (Repeat copy's default points start with the
        training ranges, since its default grid lies wholly outside them.)

    Raises:
        ValueError: ``repeats`` for a task without them, or a size the task rejects.
    """
    t = _task(task)
    has_repeats = "repeats" in t.extra_sizes
    if repeats is not None and not has_repeats:
        raise ValueError(f"repeats apply to repeat_copy only (tasks with repeats), not {t.name}")
    if lengths is None and repeats is None:
        points = [dict(p) for p in t.eval_points()]
    else:
        lengths = default_lengths(t) if lengths is None else list(lengths)
        if has_repeats:
            repeats = default_repeats(t) if repeats is None else list(repeats)
            points = [{"length": n, "repeats": r} for n in lengths for r in repeats]
        else:
            points = [{"length": n} for n in lengths]
    for point in points:  # every size is checked before any work, so a bad one fails fast
        kw = {name: value for name, value in point.items() if name != "length"}
        try:
            t.num_steps(point["length"], **kw)
        except TypeError as exc:
            raise ValueError(f"{t.name}: {', '.join(kw)} does not apply to this task ({exc})") from None
    records = []
    for point in points:
        k = _size_key(key, point["length"])
        if "repeats" in point:
            k = _size_key(k, point["repeats"])
        kw = {name: value for name, value in point.items() if name != "length"}
        record = evaluate(model, t, point["length"], batch_size=batch_size, key=k, **kw)
        records.append(record)
        if callback is not None:
            callback(record)
    return records


class SequenceTrace(NamedTuple):
    """One sequence run through an NTM, everything time-major (no batch axis).

    Attributes:
        inputs: ``[T, I]``; targets: ``[T, O]``; mask: ``[T]``.
        outputs: ``[T, O]`` output probabilities (sigmoid of the logits).
        trace: :class:`ntm.NTMTrace` with fields ``[T, ...]``: ``read_w [T, R, N]``,
            ``write_w [T, W, N]``, ``reads [T, R, M]``, ``add [T, W, M]``, ``memory [T, N, M]`` ...
        cost_bits, bit_errors: the sequence's scores.
    """

    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    outputs: np.ndarray
    trace: Any
    cost_bits: float
    bit_errors: float


@eqx.filter_jit
def _traced(model, inputs):
    return model.run(inputs, return_trace=True)


def sample_trace(
    model: eqx.Module, task: str | _tasks.Task, length: int | None = None, *, key: jax.Array, **kw: Any
) -> SequenceTrace:
    """Run one fresh sequence through ``model`` and keep what its heads did at every step.

    Args:
        model: an NTM (the LSTM baseline has no trace: ValueError).
        task: a task or its name.
        length: the main size; None: the task's :meth:`~ntm.tasks.Task.show_sizes`.
        key: PRNG key for the sequence.
        **kw: other sizes (``repeats=`` for repeat copy; default: the task's ``show_sizes``).

    Raises:
        ValueError: the model has no memory, or a size the task rejects.
    """
    t = _task(task)
    given = {"length": length, **kw}
    kw = {**t.show_sizes(), **{name: value for name, value in given.items() if value is not None}}
    length = kw.pop("length")
    batch = _sample(t, key, 1, length, kw)
    if not callable(getattr(model, "run", None)):
        raise ValueError("this model has no run(inputs, return_trace=True), so there is no memory access to show")
    logits, trace = _traced(model, batch.inputs)
    if trace is None:
        raise ValueError("this model has no memory, so there is no memory access to show")
    cost = t.cost(logits, batch)
    errors = t.bit_errors(logits, batch)
    return SequenceTrace(
        inputs=np.asarray(batch.inputs[0]),
        targets=np.asarray(batch.targets[0]),
        mask=np.asarray(batch.mask[0]),
        outputs=np.asarray(jax.nn.sigmoid(logits[0])),
        trace=jax.tree_util.tree_map(lambda x: np.asarray(x[:, 0]), trace),  # [T, B, ...] -> [T, ...]
        cost_bits=float(cost[0]),
        bit_errors=float(errors[0]),
    )
