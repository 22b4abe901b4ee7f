"""Read a trained NTM's head behaviour off a trace and print it as a short program.

The paper (section 4.1) reads the copy algorithm off the head weightings: "write to consecutive
locations while input arrives, jump back to the start by content, read consecutively".  This module
does that reading mechanically, for any task and any number of heads.

Legend: T time steps, N memory rows, S allowed shifts (index ``j`` is shift ``j - S//2``).

For every step of one head it takes

* the *focus*: the dominant row ``argmax_i w_t(i)`` and its weight ``max_i w_t(i)``; a step whose
  weight is below :data:`BLURRED` is "blurred focus" (no single row dominates);
* the *mode*: the interpolation gate ``g_t`` of eq. 7 -- ``g_t >= 0.5`` means the weighting came
  mostly from the content lookup (``"content"``), below it from the previous weighting, moved by the
  shift (``"location"``);
* the *move*: the change of dominant row since the previous step, modulo N, as a signed integer in
  ``(-N/2, N/2]`` (so a wrap from row N-1 to row 0 is ``+1``); and the shift distribution's
  expected and most likely shift.  A location run whose move differs from its mean expected shift
  (rounded) says so: "(expected shift +0.12)".

It then compresses consecutive steps into :class:`Segment` s:

* consecutive *location* steps with the same move make one segment ("rows 3..22, +1 per step");
  a move of 0 reads "stays at row r";
* consecutive *content* steps make one segment: a single step is a jump ("jump to row 3 by
  content"), several steps with the same move read "rows 3..9, +1 per step by content", and
  irregular ones list their rows ("content lookups at rows 5, 9 x2, 2");
* consecutive *blurred* steps make one segment, whatever their rows.

The first step, and the first step after a blurred stretch or an excluded step, has no known move;
a location segment starting there takes its per-step move from its second step.

    >>> import numpy as np
    >>> w = np.eye(8)[[2, 3, 4, 5]]                       # rows 2, 3, 4, 5
    >>> segs = describe_head(w, np.zeros(4), np.tile([0., 0., 1.], (4, 1)), "write", "write head 0")
    >>> print(format_program(segs))
    write head 0:
      rows 2..5, +1 per step (steps 0-3)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Sequence

import numpy as np

__all__ = [
    "BLURRED",
    "CONTENT_GATE",
    "Segment",
    "describe_head",
    "format_program",
    "summarize_trace",
    "summarize_run",
    "sample_run",
    "summarize_sample",
]

BLURRED = 0.5  # a step whose largest weight is below this has "blurred focus"
CONTENT_GATE = 0.5  # interpolation gate at or above this: the step addressed by content

_MAX_LISTED = 8  # irregular content lookups list at most this many rows


@dataclasses.dataclass(frozen=True)
class Segment:
    """A run of consecutive steps in which one head behaved uniformly.

    Attributes:
        kind: ``"read"`` or ``"write"``.
        name: the head's display name, e.g. ``"write head 0"``.
        start, stop: first and last step of the run (inclusive).
        mode: ``"location"``, ``"content"`` or ``"blurred"``.
        rows: the dominant row at every step of the run.
        delta: the row change per step (signed, modulo N) shared by the run, or None when it is
            unknown (a single step with no predecessor) or irregular (content lookups).
        weight: the smallest dominant weight in the run (for ``"blurred"``, the largest).
        gate: mean interpolation gate over the run.
        shift: mean expected shift over the run (``sum_j s_t(j) * (j - S//2)``).
        shift_argmax: the most likely shift at the run's first step.
        num_rows: N, the number of memory rows.
    """

    kind: str
    name: str
    start: int
    stop: int
    mode: str
    rows: tuple[int, ...]
    delta: int | None
    weight: float
    gate: float
    shift: float
    shift_argmax: int
    num_rows: int

    @property
    def num_steps(self) -> int:
        return self.stop - self.start + 1

    @property
    def wraps(self) -> bool:
        """Whether the rows pass the end of memory (e.g. 14, 15, 0, 1)."""
        if self.delta is None or self.delta == 0 or len(self.rows) < 2:
            return False
        travelled = self.delta * (len(self.rows) - 1)
        return not 0 <= self.rows[0] + travelled < self.num_rows

    def steps_text(self) -> str:
        return f"step {self.start}" if self.start == self.stop else f"steps {self.start}-{self.stop}"

    def describe(self) -> str:
        """One phrase, without the steps: e.g. ``"rows 3..10, +1 per step"``."""
        r0, r1 = self.rows[0], self.rows[-1]
        if self.mode == "blurred":
            near = f" near row {r0}" if len(set(self.rows)) == 1 else ""
            return f"blurred focus{near} (max weight {self.weight:.2f})"
        if self.mode == "content":
            if self.num_steps == 1:
                text = f"jump to row {r0} by content"
                if self.shift_argmax != 0:
                    text += f", shifted {self.shift_argmax:+d}"
                return text
            if self.delta == 0:
                return f"holds row {r0} by content"
            if self.delta is not None:
                return f"{self._row_range()}, {self.delta:+d} per step by content"
            return f"content lookups at rows {_list_rows(self.rows)}"
        # location
        if self.num_steps == 1 and self.delta is None:
            text = f"at row {r0}"
        elif self.delta == 0:
            text = f"stays at row {r0}"
        elif self.num_steps == 1:
            text = f"moves {self.delta:+d} to row {r0}"
        else:
            text = f"{self._row_range()}, {self.delta:+d} per step"
        # The rows should move as the shift distribution says; flag it when they do not (the
        # weighting was too blurred for the shift to move its peak, or sharpening moved it).
        if self.delta is not None and round(self.shift) != self.delta:
            text += f" (expected shift {self.shift:+.2f})"
        return text

    def _row_range(self) -> str:
        text = f"rows {self.rows[0]}..{self.rows[-1]}"
        return text + " (wrapping)" if self.wraps else text


def _list_rows(rows: Sequence[int]) -> str:
    """Run-length list: ``5, 9 x2, 2``; truncated after :data:`_MAX_LISTED` entries."""
    runs: list[list[int]] = []
    for r in rows:
        if runs and runs[-1][0] == r:
            runs[-1][1] += 1
        else:
            runs.append([r, 1])
    parts = [f"{r} x{n}" if n > 1 else f"{r}" for r, n in runs]
    if len(parts) > _MAX_LISTED:
        parts = parts[:_MAX_LISTED] + [f"... ({len(parts) - _MAX_LISTED} more)"]
    return ", ".join(parts)


def _signed_move(a: int, b: int, n: int) -> int:
    """``b - a`` modulo ``n``, as an integer in ``(-n/2, n/2]``."""
    d = (b - a) % n
    return d - n if d > n // 2 else d


def describe_head(
    weights: Any,
    gate: Any,
    shift: Any,
    kind: str,
    name: str,
    step_mask: Any = None,
) -> list[Segment]:
    """Compress one head's trace into :class:`Segment` s (see the module docstring for the rules).

    Args:
        weights: ``[T, N]`` the head's weighting at every step.
        gate: ``[T]`` its interpolation gate ``g_t`` (eq. 7).
        shift: ``[T, S]`` its shift distribution ``s_t`` (index ``j`` is shift ``j - S//2``).
        kind: ``"read"`` or ``"write"``.
        name: display name of the head.
        step_mask: optional ``[T]`` booleans; only steps where it is true are described, and an
            excluded step breaks segments (the move across it is unknown).

    Returns:
        The segments in time order.

    Raises:
        ValueError: on inconsistent shapes.
    """
    w = np.asarray(weights, dtype=np.float64)
    g = np.asarray(gate, dtype=np.float64).reshape(-1)
    s = np.asarray(shift, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"describe_head: weights must be [T, N], got shape {w.shape}")
    t_steps, n_rows = w.shape
    if g.shape != (t_steps,):
        raise ValueError(f"describe_head: gate must be [T]=[{t_steps}], got shape {g.shape}")
    if s.ndim != 2 or s.shape[0] != t_steps:
        raise ValueError(f"describe_head: shift must be [T, S] with T={t_steps}, got shape {s.shape}")
    if step_mask is None:
        keep = np.ones(t_steps, dtype=bool)
    else:
        keep = np.asarray(step_mask).reshape(-1).astype(bool)
        if keep.shape != (t_steps,):
            raise ValueError(f"describe_head: step_mask must be [T]=[{t_steps}], got shape {keep.shape}")

    rows = np.argmax(w, axis=1)
    peaks = w[np.arange(t_steps), rows]
    offsets = np.arange(s.shape[1]) - s.shape[1] // 2
    expected = s @ offsets
    likely = offsets[np.argmax(s, axis=1)]

    segments: list[Segment] = []
    cur: dict | None = None  # the segment being built, as mutable fields

    def close():
        nonlocal cur
        if cur is not None:
            steps = cur["steps"]
            blurred = cur["mode"] == "blurred"
            segments.append(
                Segment(
                    kind=kind,
                    name=name,
                    start=steps[0],
                    stop=steps[-1],
                    mode=cur["mode"],
                    rows=tuple(int(rows[t]) for t in steps),
                    delta=cur["delta"],
                    weight=float(np.max(peaks[steps]) if blurred else np.min(peaks[steps])),
                    gate=float(np.mean(g[steps])),
                    shift=float(np.mean(expected[steps])),
                    shift_argmax=int(likely[steps[0]]),
                    num_rows=n_rows,
                )
            )
        cur = None

    prev_sharp: int | None = None  # the previous step, if it was kept and sharply focused
    for t in range(t_steps):
        if not keep[t]:
            close()
            prev_sharp = None
            continue
        if peaks[t] < BLURRED:
            if cur is None or cur["mode"] != "blurred":
                close()
                cur = {"mode": "blurred", "steps": [t], "delta": None}
            else:
                cur["steps"].append(t)
            prev_sharp = None
            continue
        move = None if prev_sharp is None else _signed_move(int(rows[prev_sharp]), int(rows[t]), n_rows)
        mode = "content" if g[t] >= CONTENT_GATE else "location"
        if mode == "location":
            if cur is not None and cur["mode"] == "location" and move is not None and cur["delta"] in (None, move):
                cur["steps"].append(t)
                cur["delta"] = move
            else:
                close()
                cur = {"mode": "location", "steps": [t], "delta": move}
        else:
            if cur is not None and cur["mode"] == "content" and move is not None:
                # The first step of a content run is a jump; later steps fix the run's delta,
                # or make it irregular (None) if they disagree.
                if len(cur["steps"]) == 1:
                    cur["delta"] = move
                elif cur["delta"] != move:
                    cur["delta"] = None
                cur["steps"].append(t)
            else:
                close()
                cur = {"mode": "content", "steps": [t], "delta": None}
        prev_sharp = t
    close()
    return segments


def format_program(segments: Sequence[Segment]) -> str:
    """Render segments as text: one block per head (in order of first appearance), one line per
    segment, except that a one-step content jump followed by the segment that continues from it
    share a line, joined by ``", then "``.

    Example::

        read head 0:
          stays at row 0 (steps 0-20)
          jump to row 3 by content (step 21), then rows 4..22, +1 per step (steps 22-40)
    """
    by_head: dict[str, list[Segment]] = {}
    for seg in segments:
        by_head.setdefault(seg.name, []).append(seg)
    blocks = []
    for name, segs in by_head.items():
        lines = [f"{name}:"]
        i = 0
        while i < len(segs):
            seg = segs[i]
            text = f"{seg.describe()} ({seg.steps_text()})"
            nxt = segs[i + 1] if i + 1 < len(segs) else None
            if (
                seg.mode == "content"
                and seg.num_steps == 1
                and nxt is not None
                and nxt.mode != "blurred"
                and nxt.start == seg.stop + 1
            ):
                text += f", then {nxt.describe()} ({nxt.steps_text()})"
                i += 1
            lines.append("  " + text)
            i += 1
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def _head_arrays(trace: Any, batch_index: int) -> list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]]:
    """``(kind, name, weights [T,N], gate [T], shift [T,S])`` for every head: writes, then reads
    (the order in which they act within a step)."""
    out = []
    for kind in ("write", "read"):
        w = np.asarray(getattr(trace, f"{kind}_w"))[:, batch_index]  # [T, H, N]
        g = np.asarray(getattr(trace, f"{kind}_gate"))[:, batch_index]  # [T, H]
        s = np.asarray(getattr(trace, f"{kind}_shift"))[:, batch_index]  # [T, H, S]
        for h in range(w.shape[1]):
            out.append((kind, f"{kind} head {h}", w[:, h], g[:, h], s[:, h]))
    return out


def _step_mask(steps: Any, t_steps: int) -> np.ndarray:
    if steps is None:
        return np.ones(t_steps, dtype=bool)
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
        if steps < 0:
            raise ValueError(f"steps must be >= 0, got {steps}")
        return np.arange(t_steps) < steps
    keep = np.asarray(steps).reshape(-1).astype(bool)
    if keep.shape != (t_steps,):
        raise ValueError(f"steps must be None, an int, or [T]=[{t_steps}] booleans, got shape {keep.shape}")
    return keep


def summarize_trace(trace: Any, batch_index: int = 0, steps: Any = None) -> str:
    """The program of every head of one sequence of a trace.

    Args:
        trace: an :class:`ntm.NTMTrace` with a leading T axis (from ``NTM.run(..., return_trace=True)``).
        batch_index: which sequence of the batch.
        steps: None (all T steps), an int k (the first k steps), or ``[T]`` booleans.

    Returns:
        Text: write heads first, then read heads (see :func:`format_program`).
    """
    if trace is None:
        raise ValueError("summarize_trace: no trace (the LSTM baseline has no memory heads)")
    heads = _head_arrays(trace, batch_index)
    keep = _step_mask(steps, heads[0][2].shape[0])
    segments: list[Segment] = []
    for kind, name, w, g, s in heads:
        segments += describe_head(w, g, s, kind, name, step_mask=keep)
    return format_program(segments)


def _run_traced(model: Any, inputs: Any):
    """``model.run(inputs, return_trace=True)``, compiled once per model structure and shape."""
    import equinox as eqx

    global _RUN_TRACED
    if _RUN_TRACED is None:
        _RUN_TRACED = eqx.filter_jit(lambda m, x: m.run(x, return_trace=True))
    return _RUN_TRACED(model, inputs)


_RUN_TRACED = None


def sample_run(run_dir: str | Path, length: int | None = None, seed: int = 0, checkpoint: str = "best") -> dict[str, Any]:
    """Load a run, sample one sequence of its task and run the model on it with a trace.

    Args:
        run_dir: a run directory (see :mod:`ntm.runs`; ``shipped:TASK`` for a shipped model).
        length: the task's main size; default: the task's :meth:`~ntm.tasks.Task.show_sizes`.
        seed: PRNG seed of the sampled sequence.
        checkpoint: ``"best"`` (the lowest evaluation cost; the last one where there is no best)
            or ``"last"``.

    Returns:
        A dict: ``model``, ``model_name``, ``info`` (:class:`~ntm.runs.CheckpointInfo`: which
        checkpoint), ``task``, ``length``, ``batch`` (one sequence, B = 1), ``logits [1, T, O]``,
        ``trace`` (leading T axis) and ``valid`` (the number of steps up to and including the
        last scored step).

    Raises:
        ntm.runs.RunError: an unusable run directory.
        ValueError: the model has no memory heads (the LSTM baseline), or a bad ``length``.
    """
    import jax

    from ntm.runs import Run

    run = Run(run_dir)
    task = run.task()
    model, info = run.load_model(checkpoint)
    if not hasattr(model, "config") or not hasattr(model.config, "memory_rows"):
        raise ValueError(f"{run_dir}: model {run.model_name!r} has no memory heads to describe")
    sizes = {**task.show_sizes(), **({"length": length} if length is not None else {})}
    length = sizes.pop("length")
    batch = task.sample(jax.random.key(seed), 1, length, **sizes)
    # No mask: the task's mask marks the scored steps, and masking would freeze the state on the
    # others (the input phase).
    logits, trace = _run_traced(model, batch.inputs)
    mask = np.asarray(batch.mask)[0]
    scored = np.flatnonzero(mask > 0)
    valid = int(scored[-1]) + 1 if scored.size else mask.shape[0]
    return dict(
        model=model, model_name=run.model_name, info=info, task=task, length=length, batch=batch,
        logits=logits, trace=trace, valid=valid,
    )


def _ranges(indices: np.ndarray) -> str:
    """``[21..40, 45]`` -> ``"21-40, 45"``."""
    parts = []
    start = prev = None
    for i in indices.tolist() + [None]:
        if start is not None and (i is None or i != prev + 1):
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = None
        if i is not None and start is None:
            start = i
        prev = i
    return ", ".join(parts) if parts else "none"


def summarize_run(run_dir: str | Path, length: int | None = None, seed: int = 0, checkpoint: str = "best") -> str:
    """The program a trained model runs, read off one sampled sequence (``ntm program DIR``).

    Samples one sequence of the run's task at ``length`` (default: the top of the training range),
    runs the model with a trace, and summarises the steps up to the last scored one (the rest is
    padding).

    Returns:
        A header (task, model, memory size, sequence length, scored steps), the per-head program,
        and a one-line legend.
    """
    return summarize_sample(sample_run(run_dir, length, seed, checkpoint), seed)


def summarize_sample(r: dict[str, Any], seed: int = 0) -> str:
    """:func:`summarize_run` for an existing :func:`sample_run` result (``seed`` is only printed)."""
    model, valid = r["model"], r["valid"]
    mask = np.asarray(r["batch"].mask)[0][:valid]
    c = model.config
    header = [
        f"{r['task'].name} / {r['model_name']}: memory {c.memory_rows} x {c.memory_width}, "
        f"{c.write_heads} write + {c.read_heads} read head(s); {r['info'].describe()}",
        f"one sequence, length {r['length']} (seed {seed}): steps 0-{valid - 1}; "
        f"scored (output) steps: {_ranges(np.flatnonzero(mask > 0))}",
        "",
    ]
    body = summarize_trace(r["trace"], 0, steps=valid)
    legend = (
        f"(content: interpolation gate >= {CONTENT_GATE}; otherwise location, moved by the shift; "
        f"blurred: max weight < {BLURRED}; moves are modulo {c.memory_rows})"
    )
    return "\n".join(header) + body + "\n\n" + legend
