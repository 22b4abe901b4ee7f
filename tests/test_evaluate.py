"""Tests for ntm.evaluate: the numbers on hand-built models whose outputs we control, the sweep's
grid and keys, and the one-sequence trace behind ``ntm show``.

The models here ignore their input (a constant logit, or an "oracle" that knows the targets), so the
expected cost and bit errors follow from the sampled targets alone, by hand or in numpy.
"""

from __future__ import annotations

import json
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntm import LSTMBaseline, LSTMConfig, NTM, NTMConfig, evaluate, metrics, tasks


class ConstantModel(eqx.Module):
    """Every output logit is ``logit``, whatever the input."""

    logit: float = eqx.field(static=True)
    outputs: int = eqx.field(static=True)

    def run(self, inputs, mask=None, *, return_trace=False, state=None):
        logits = jnp.full(inputs.shape[:2] + (self.outputs,), self.logit, jnp.float32)
        return (logits, None) if return_trace else logits


class OracleModel(eqx.Module):
    """Answers with confident logits (+-40) for a batch whose targets it was given."""

    targets: jax.Array

    def run(self, inputs, mask=None, *, return_trace=False, state=None):
        return 40.0 * (2.0 * self.targets - 1.0)


class ExplodingModel(eqx.Module):
    def run(self, inputs, mask=None, **kw):
        raise RuntimeError("the model ran")


KEY = jax.random.key(7)
# The tiny NTM of tests/test_cli.py's run (copy, width 8): equal models share compilations.
TINY = NTMConfig(input_size=9, output_size=8, memory_rows=16, memory_width=8, controller_size=16)


def test_zero_logit_costs_one_bit_per_scored_bit_and_misses_every_one():
    # sigmoid(0) = 1/2 costs exactly 1 bit per scored bit; "logit > 0" is false, so every target
    # 1 is a wrong bit and every 0 a right one.
    task = tasks.get("copy")
    record = evaluate.evaluate(ConstantModel(0.0, 8), task, 5, batch_size=4, key=KEY)
    batch = task.sample(KEY, 4, 5)
    ones = float(np.sum(np.asarray(batch.targets) * np.asarray(batch.mask)[..., None]))
    assert record["length"] == 5 and record["sequences"] == 4
    assert record["cost_bits"] == pytest.approx(5 * 8, rel=1e-6)
    assert record["bit_errors"] == pytest.approx(ones / 4)
    assert record["bit_error_rate"] == pytest.approx(ones / (4 * 5 * 8))


def test_constant_logit_cost_by_hand():
    # logit c on target y costs softplus(c) - c*y nats; c = 2 predicts 1 everywhere, so the wrong
    # bits are the target zeros.
    c, length, batch_size = 2.0, 5, 4
    task = tasks.get("copy")
    record = evaluate.evaluate(ConstantModel(c, 8), task, length, batch_size=batch_size, key=KEY)
    batch = task.sample(KEY, batch_size, length)
    scored = np.asarray(batch.mask)[..., None] * np.ones(8)  # [B, T, O]
    ones = np.sum(np.asarray(batch.targets) * scored, axis=(1, 2))  # [B]
    zeros = np.sum(scored, axis=(1, 2)) - ones
    softplus = math.log1p(math.exp(c))
    expected_cost = (length * 8 * softplus - c * ones) / math.log(2)
    assert record["cost_bits"] == pytest.approx(expected_cost.mean(), rel=1e-5)
    assert record["bit_errors"] == pytest.approx(zeros.mean())
    assert record["bit_error_rate"] == pytest.approx(zeros.sum() / (batch_size * length * 8))


def test_an_oracle_scores_zero():
    task = tasks.get("copy")
    batch = task.sample(KEY, 4, 5)
    record = evaluate.evaluate(OracleModel(batch.targets), task, 5, batch_size=4, key=KEY)
    assert record["bit_errors"] == 0.0 and record["bit_error_rate"] == 0.0
    assert 0.0 <= record["cost_bits"] < 1e-6


def test_associative_recall_lengths_are_items():
    # Whatever the number of items, one item (item_length x width bits) is scored.
    record = evaluate.evaluate(ConstantModel(0.0, 6), "associative_recall", 9, batch_size=3, key=KEY)
    assert record["length"] == 9
    assert record["cost_bits"] == pytest.approx(3 * 6, rel=1e-6)


def test_ngrams_records_the_bayes_optimal_cost():
    task = tasks.get("dynamic_ngrams")
    record = evaluate.evaluate(ConstantModel(0.0, 1), task, 20, batch_size=8, key=KEY)
    batch = task.sample(KEY, 8, 20)
    optimal = jax.jit(metrics.ngram_optimal_cost, static_argnames="order")(
        batch.targets[..., 0], batch.mask, order=task.order
    )
    assert record["cost_bits"] == pytest.approx(20.0, rel=1e-6)
    assert record["optimal_cost_bits"] == pytest.approx(float(jnp.mean(optimal)), rel=1e-6)
    assert record["optimal_cost_bits"] < record["cost_bits"]


def test_repeat_copy_default_sweep_is_training_range_then_grid():
    task = tasks.get("repeat_copy", width=2)
    records = evaluate.sweep(ConstantModel(0.0, 3), task, batch_size=2, key=KEY)
    assert [(r["length"], r["repeats"]) for r in records] == [
        ([1, 10], [1, 10]), (10, 10), (10, 20), (20, 10), (20, 20)
    ]
    # Zero logits: (L*R + 1) scored steps of width+1 bits, one bit each.
    for r in records[1:]:
        assert r["cost_bits"] == pytest.approx((r["length"] * r["repeats"] + 1) * 3, rel=1e-6)
    json.dumps(records)  # JSON-ready


def test_explicit_grid_with_ranges():
    records = evaluate.sweep(ConstantModel(0.0, 9), "repeat_copy", [2, (1, 3)], repeats=[3], batch_size=2, key=KEY)
    assert [(r["length"], r["repeats"]) for r in records] == [(2, 3), ([1, 3], 3)]
    assert records[0]["cost_bits"] == pytest.approx(7 * 9, rel=1e-6)


def test_each_size_draws_the_same_data_whatever_else_is_swept():
    model = ConstantModel(2.0, 8)
    alone = evaluate.sweep(model, "copy", [5], batch_size=4, key=KEY)
    together = evaluate.sweep(model, "copy", [3, 5], batch_size=4, key=KEY)
    assert together[1] == alone[0]
    assert together[0]["cost_bits"] != together[1]["cost_bits"]


def test_default_sizes():
    assert evaluate.default_lengths("copy") == [10, 20, 30, 50, 120]
    assert evaluate.default_lengths("repeat_copy") == [10, 20]
    assert evaluate.default_repeats("repeat_copy") == [10, 20]
    assert evaluate.default_repeats("copy") is None
    assert evaluate.default_lengths("associative_recall") == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    assert evaluate.default_lengths("dynamic_ngrams") == [200]
    assert evaluate.default_lengths("priority_sort") == [10, 16, 20, 30, 40]
    for name in tasks.names():  # every registered task has defaults the task accepts
        task = tasks.get(name)
        for length in evaluate.default_lengths(name):
            task.num_steps(length)


def test_sizes_are_checked_before_any_work():
    with pytest.raises(ValueError, match="length must be >= 1"):
        evaluate.sweep(ExplodingModel(), "copy", [5, 0], key=KEY)
    with pytest.raises(ValueError, match="repeat_copy only"):
        evaluate.sweep(ExplodingModel(), "copy", [5], repeats=[2], key=KEY)
    with pytest.raises(ValueError, match="does not apply"):
        evaluate.evaluate(ExplodingModel(), "copy", 5, key=KEY, repeats=2)
    with pytest.raises(ValueError, match=">= 2"):
        evaluate.sweep(ExplodingModel(), "associative_recall", [1], key=KEY)


def test_callback_sees_each_record():
    seen = []
    records = evaluate.sweep(ConstantModel(0.0, 8), "copy", [3, 5], batch_size=4, key=KEY, callback=seen.append)
    assert seen == records


def test_sample_trace_of_an_ntm():
    task = tasks.get("copy")
    model = NTM(TINY, key=jax.random.key(0))
    seq = evaluate.sample_trace(model, task, 4, key=KEY)
    steps = task.num_steps(4)  # 9
    assert seq.inputs.shape == (steps, 9) and seq.targets.shape == (steps, 8) and seq.outputs.shape == (steps, 8)
    assert seq.mask.shape == (steps,)
    assert seq.trace.read_w.shape == (steps, 1, 16) and seq.trace.write_w.shape == (steps, 1, 16)
    assert seq.trace.add.shape == (steps, 1, 8) and seq.trace.reads.shape == (steps, 1, 8)
    assert np.all((seq.outputs >= 0) & (seq.outputs <= 1))
    np.testing.assert_allclose(seq.trace.read_w.sum(-1), 1.0, rtol=1e-5)
    # Its scores agree with its own outputs: cross-entropy of the probabilities, in bits.
    y, p, m = seq.targets, seq.outputs.astype(np.float64), seq.mask[:, None]
    cost = -np.sum(m * (y * np.log2(p) + (1 - y) * np.log2(1 - p)))
    assert seq.cost_bits == pytest.approx(cost, rel=1e-4)
    assert seq.bit_errors == np.sum(m * ((p > 0.5) != (y > 0.5)))


def test_sample_trace_refuses_a_model_without_memory():
    lstm = LSTMBaseline(LSTMConfig(input_size=9, output_size=8, hidden_size=4, layers=1), key=jax.random.key(0))
    with pytest.raises(ValueError, match="no memory"):
        evaluate.sample_trace(lstm, "copy", 2, key=KEY)
