"""Tests of ntm.program: reading head behaviour off traces, on hand-built traces with known moves,
and a smoke test of summarize_run on a tiny untrained run directory."""

from __future__ import annotations

import json
import re

import equinox as eqx
import jax
import numpy as np
import pytest

from ntm import NTMTrace
from ntm.runs import Run
from ntm.program import Segment, describe_head, format_program, summarize_run, summarize_trace

N = 16


def weights(rows, n=N, peak=1.0):
    """[T, N] weightings focused on ``rows`` with weight ``peak``, the rest spread evenly."""
    w = np.full((len(rows), n), (1.0 - peak) / (n - 1))
    w[np.arange(len(rows)), rows] = peak
    return w


def shifts(offsets, s=3):
    """[T, S] one-hot shift distributions for the given shifts (-1, 0, +1)."""
    out = np.zeros((len(offsets), s))
    out[np.arange(len(offsets)), np.asarray(offsets) + s // 2] = 1.0
    return out


def summary(segs):
    return [(s.mode, s.start, s.stop, s.rows[0], s.rows[-1], s.delta) for s in segs]


def test_copy_like_read_head_forward_jump_forward():
    # +1 over rows 3..10 (steps 0-7), a content jump back to row 3 (step 8), then +1 again.
    rows = list(range(3, 11)) + [3] + list(range(4, 10))
    gate = [0.0] * 8 + [1.0] + [0.0] * 6
    offs = [1] * 8 + [0] + [1] * 6
    segs = describe_head(weights(rows), gate, shifts(offs), "read", "read head 0")
    assert summary(segs) == [
        ("location", 0, 7, 3, 10, 1),
        ("content", 8, 8, 3, 3, None),
        ("location", 9, 14, 4, 9, 1),
    ]
    assert all(isinstance(s, Segment) and s.kind == "read" and s.name == "read head 0" for s in segs)
    assert segs[0].rows == tuple(range(3, 11))
    assert segs[0].shift == pytest.approx(1.0) and segs[0].gate == pytest.approx(0.0)
    assert segs[1].gate == pytest.approx(1.0)
    assert format_program(segs) == (
        "read head 0:\n"
        "  rows 3..10, +1 per step (steps 0-7)\n"
        "  jump to row 3 by content (step 8), then rows 4..9, +1 per step (steps 9-14)"
    )


def test_still_head_and_minus_one_mover():
    still = describe_head(weights([5] * 6), np.zeros(6), shifts([0] * 6), "write", "write head 0")
    assert summary(still) == [("location", 0, 5, 5, 5, 0)]
    assert format_program(still) == "write head 0:\n  stays at row 5 (steps 0-5)"

    back = describe_head(weights([10, 9, 8, 7]), np.zeros(4), shifts([-1] * 4), "read", "read head 1")
    assert summary(back) == [("location", 0, 3, 10, 7, -1)]
    assert back[0].shift == pytest.approx(-1.0)
    assert format_program(back) == "read head 1:\n  rows 10..7, -1 per step (steps 0-3)"


def test_wrap_around_counts_as_plus_one():
    segs = describe_head(weights([14, 15, 0, 1, 2]), np.zeros(5), shifts([1] * 5), "write", "w")
    assert summary(segs) == [("location", 0, 4, 14, 2, 1)]
    assert segs[0].wraps
    assert format_program(segs) == "w:\n  rows 14..2 (wrapping), +1 per step (steps 0-4)"
    down = describe_head(weights([1, 0, 15, 14]), np.zeros(4), shifts([-1] * 4), "read", "r")
    assert summary(down) == [("location", 0, 3, 1, 14, -1)]
    assert down[0].wraps
    # Not wrapping: the same rows in order.
    assert not describe_head(weights([3, 4, 5]), np.zeros(3), shifts([1] * 3), "read", "r")[0].wraps


def test_change_of_move_splits_segments():
    # Forward, then stop (the stay begins at the step that did not move), then a single +2 move.
    rows = [3, 4, 5, 5, 5, 7]
    segs = describe_head(weights(rows), np.zeros(6), shifts([1, 1, 1, 0, 0, 1]), "write", "write head 0")
    assert summary(segs) == [
        ("location", 0, 2, 3, 5, 1),
        ("location", 3, 4, 5, 5, 0),
        ("location", 5, 5, 7, 7, 2),
    ]
    assert format_program(segs) == (
        "write head 0:\n"
        "  rows 3..5, +1 per step (steps 0-2)\n"
        "  stays at row 5 (steps 3-4)\n"
        "  moves +2 to row 7 (expected shift +1.00) (step 5)"
    )


def test_moves_that_disagree_with_the_shift_are_flagged():
    # The peak moved +1 each step although the shift distribution mostly said 0.
    s = np.tile([0.1, 0.7, 0.2], (3, 1))
    segs = describe_head(weights([3, 4, 5]), np.zeros(3), s, "write", "w")
    assert segs[0].shift == pytest.approx(0.1)
    assert segs[0].describe() == "rows 3..5, +1 per step (expected shift +0.10)"
    # Agreeing within rounding: no remark.
    s = np.tile([0.0, 0.4, 0.6], (3, 1))
    assert describe_head(weights([3, 4, 5]), np.zeros(3), s, "write", "w")[0].describe() == "rows 3..5, +1 per step"


def test_blurred_steps_are_flagged_and_break_segments():
    rows = [3, 4, 5, 6, 7, 8, 9, 10]
    w = weights(rows)
    w[3:5] = weights([6, 7], peak=0.3)  # steps 3-4: no row dominates
    segs = describe_head(w, np.zeros(8), shifts([1] * 8), "write", "write head 0")
    assert summary(segs) == [
        ("location", 0, 2, 3, 5, 1),
        ("blurred", 3, 4, 6, 7, None),
        # The first step after a blurred stretch has no known move; the next step fixes +1.
        ("location", 5, 7, 8, 10, 1),
    ]
    assert segs[1].weight == pytest.approx(0.3)
    # A blurred stretch whose best row does not change says where it is.
    still = describe_head(weights([4, 4], peak=0.2), np.zeros(2), shifts([0, 0]), "read", "r")
    assert still[0].describe() == "blurred focus near row 4 (max weight 0.20)"
    assert format_program(segs) == (
        "write head 0:\n"
        "  rows 3..5, +1 per step (steps 0-2)\n"
        "  blurred focus (max weight 0.30) (steps 3-4)\n"
        "  rows 8..10, +1 per step (steps 5-7)"
    )


def test_weight_just_below_half_is_blurred_and_at_half_is_not():
    w = weights([2, 2], peak=0.5)
    w[1] = weights([2], peak=0.49)[0]
    segs = describe_head(w, np.zeros(2), shifts([0, 0]), "read", "r")
    assert [s.mode for s in segs] == ["location", "blurred"]


def test_content_runs():
    # Content lookups every step: a regular run, a held row, and irregular rows.
    regular = describe_head(weights([3, 4, 5]), np.ones(3), shifts([0] * 3), "read", "r")
    assert summary(regular) == [("content", 0, 2, 3, 5, 1)]
    assert format_program(regular) == "r:\n  rows 3..5, +1 per step by content (steps 0-2)"
    held = describe_head(weights([7, 7]), np.ones(2), shifts([0, 0]), "read", "r")
    assert format_program(held) == "r:\n  holds row 7 by content (steps 0-1)"
    irregular = describe_head(weights([5, 9, 9, 2]), np.ones(4), shifts([0] * 4), "read", "r")
    assert summary(irregular) == [("content", 0, 3, 5, 2, None)]
    assert format_program(irregular) == "r:\n  content lookups at rows 5, 9 x2, 2 (steps 0-3)"
    # A content step followed by a shift is reported with the shift.
    shifted = describe_head(weights([4, 4]), np.array([1.0, 0.0]), shifts([1, 0]), "read", "r")
    assert format_program(shifted) == "r:\n  jump to row 4 by content, shifted +1 (step 0), then stays at row 4 (step 1)"


def test_long_irregular_content_list_is_truncated():
    rows = [1, 5, 2, 6, 3, 7, 4, 8, 0, 9, 11]
    segs = describe_head(weights(rows), np.ones(len(rows)), shifts([0] * len(rows)), "read", "r")
    assert segs[0].describe() == "content lookups at rows 1, 5, 2, 6, 3, 7, 4, 8, ... (3 more)"


def test_gate_threshold_is_half():
    segs = describe_head(weights([3, 4, 9]), [0.49, 0.49, 0.5], shifts([1, 1, 0]), "write", "w")
    assert [s.mode for s in segs] == ["location", "content"]


def test_step_mask_excludes_steps_and_breaks_runs():
    rows = list(range(8))
    mask = np.array([1, 1, 1, 0, 1, 1, 1, 0], bool)
    segs = describe_head(weights(rows), np.zeros(8), shifts([1] * 8), "read", "r", step_mask=mask)
    assert summary(segs) == [("location", 0, 2, 0, 2, 1), ("location", 4, 6, 4, 6, 1)]


def test_describe_head_rejects_bad_shapes():
    with pytest.raises(ValueError, match="weights"):
        describe_head(np.zeros(5), np.zeros(5), shifts([0] * 5), "read", "r")
    with pytest.raises(ValueError, match="gate"):
        describe_head(weights([1, 2]), np.zeros(3), shifts([0, 0]), "read", "r")
    with pytest.raises(ValueError, match="shift"):
        describe_head(weights([1, 2]), np.zeros(2), shifts([0, 0, 0]), "read", "r")
    with pytest.raises(ValueError, match="step_mask"):
        describe_head(weights([1, 2]), np.zeros(2), shifts([0, 0]), "read", "r", step_mask=[1])


def _trace(write_rows, read_rows, batch=2, batch_index=1, m=4):
    """A hand-built NTMTrace [T, B, ...]: heads follow the given rows in sequence ``batch_index``
    (location mode, +1 shifts), the other sequences stay on row 0."""
    w_heads, r_heads, t = len(write_rows), len(read_rows), len(write_rows[0])

    def head_w(rows_per_head):
        out = np.zeros((t, batch, len(rows_per_head), N))
        out[:, :, :, 0] = 1.0
        for h, rows in enumerate(rows_per_head):
            out[:, batch_index, h] = weights(rows)
        return out

    def per_head(value, h):
        return np.full((t, batch, h), value)

    shift = np.zeros((t, batch, 1, 3))
    shift[..., 2] = 1.0
    return NTMTrace(
        read_w=head_w(read_rows), write_w=head_w(write_rows),
        reads=np.zeros((t, batch, r_heads, m)), add=np.zeros((t, batch, w_heads, m)),
        erase=np.zeros((t, batch, w_heads, m)),
        read_gate=per_head(0.0, r_heads), write_gate=per_head(0.0, w_heads),
        read_shift=np.repeat(shift, r_heads, axis=2), write_shift=np.repeat(shift, w_heads, axis=2),
        read_gamma=per_head(1.0, r_heads), write_gamma=per_head(1.0, w_heads),
        read_beta=per_head(1.0, r_heads), write_beta=per_head(1.0, w_heads),
        memory=np.zeros((t, batch, N, m)),
    )


def test_summarize_trace_all_heads_in_order():
    trace = _trace(write_rows=[[0, 1, 2, 3], [8, 9, 10, 11]], read_rows=[[15, 0, 1, 2]])
    assert summarize_trace(trace, batch_index=1) == (
        "write head 0:\n"
        "  rows 0..3, +1 per step (steps 0-3)\n"
        "write head 1:\n"
        "  rows 8..11, +1 per step (steps 0-3)\n"
        "read head 0:\n"
        "  rows 15..2 (wrapping), +1 per step (steps 0-3)"
    )
    # The other sequence of the batch stays on row 0 (though its shifts say +1); ``steps`` keeps
    # the first steps only.
    lines = summarize_trace(trace, batch_index=0, steps=2).splitlines()
    assert lines[1] == "  stays at row 0 (expected shift +1.00) (steps 0-1)"
    assert "steps 0-1" in summarize_trace(trace, batch_index=1, steps=[1, 1, 0, 0])
    with pytest.raises(ValueError, match="no trace"):
        summarize_trace(None)


# Smoke test on a real (tiny, untrained) model saved as a run directory -------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, make_run_dir):
    return make_run_dir(
        tmp_path_factory.mktemp("program") / "run", memory_rows=16, memory_width=6, controller_size=8
    )


def test_summarize_run_smoke(tiny_run):
    text = summarize_run(tiny_run)  # default length: the top of the training range, here 4
    lines = text.splitlines()
    assert lines[0] == "copy / ntm-ff: memory 16 x 6, 1 write + 1 read head(s); last checkpoint (0 sequences)"
    assert lines[1] == "one sequence, length 4 (seed 0): steps 0-8; scored (output) steps: 5-8"
    assert "write head 0:" in lines and "read head 0:" in lines
    assert lines.index("write head 0:") < lines.index("read head 0:")
    # Every step 0..8 of each head is covered by exactly one segment line, in order.
    for head in ("write head 0:", "read head 0:"):
        covered = []
        for line in lines[lines.index(head) + 1:]:
            if not line.startswith("  "):
                break
            for a, b in re.findall(r"steps? (\d+)(?:-(\d+))?\)", line):
                covered += list(range(int(a), int(b or a) + 1))
        assert covered == list(range(9)), head
    assert lines[-1].startswith("(content: interpolation gate >= 0.5")
    # An explicit length; steps after the last scored one would be padding (none for copy).
    assert "length 2 (seed 3): steps 0-4" in summarize_run(tiny_run, length=2, seed=3)


def test_summarize_run_rejects_models_without_memory(tmp_path):
    from ntm import LSTMConfig, presets
    from ntm import training as T

    # A small LSTM baseline run, written by hand: config and best parameters.
    cfg = T.TrainConfig(task="copy", model="lstm", model_args={"hidden_size": 4, "layers": 1}).resolved()
    model_cfg = cfg.model_config()
    assert isinstance(model_cfg, LSTMConfig)
    (tmp_path / "config.json").write_text(json.dumps({"train": cfg.to_dict(), "model": presets.config_to_dict(model_cfg)}))
    model = presets.build_model(model_cfg, jax.random.key(0))
    Run(tmp_path).save_best(eqx.filter(model, eqx.is_inexact_array), {"step": 0, "sequences": 0, "wall_time": 0.0})
    with pytest.raises(ValueError, match="no memory heads"):
        summarize_run(tmp_path)
