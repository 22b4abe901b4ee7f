"""Tests for ntm.metrics: hand-computed costs and errors, and the n-gram Bayes-optimal reference
against a plain-Python implementation of eq. 10."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from ntm import metrics
from ntm.metrics import bit_errors, cost_bits, ngram_optimal_cost, ngram_optimal_probs
from ntm.tasks import DynamicNGramsTask
from ntm.tasks.ngrams import _arcsine


def test_all_is_curated() -> None:
    expected = ["cost_bits", "bit_errors", "ngram_optimal_probs", "ngram_optimal_cost"]
    assert sorted(metrics.__all__) == sorted(expected)


# cost_bits -------------------------------------------------------------------------------------


def test_cost_of_zero_logits_is_one_bit_per_scored_bit() -> None:
    targets = jnp.asarray(np.random.default_rng(0).integers(0, 2, (2, 3, 4)), jnp.float32)
    mask = jnp.array([[1, 1, 0], [1, 0, 0]], jnp.float32)
    np.testing.assert_allclose(cost_bits(jnp.zeros((2, 3, 4)), targets, mask), [8.0, 4.0], rtol=1e-6)


def test_cost_of_a_known_logit_matches_the_formula() -> None:
    logits = jnp.full((1, 1, 2), 2.0)
    targets = jnp.array([[[1.0, 0.0]]])
    expected = -math.log2(1 / (1 + math.exp(-2.0))) - math.log2(1 - 1 / (1 + math.exp(-2.0)))
    np.testing.assert_allclose(cost_bits(logits, targets, jnp.ones((1, 1))), [expected], rtol=1e-6)


def test_cost_matches_optax_in_bits() -> None:
    rng = np.random.default_rng(1)
    logits = jnp.asarray(rng.normal(0, 3, (3, 5, 4)), jnp.float32)
    targets = jnp.asarray(rng.integers(0, 2, (3, 5, 4)), jnp.float32)
    mask = jnp.asarray(rng.integers(0, 2, (3, 5)), jnp.float32)
    nats = optax.sigmoid_binary_cross_entropy(logits, targets).sum(-1)
    expected = (nats * mask).sum(-1) / math.log(2)
    np.testing.assert_allclose(cost_bits(logits, targets, mask), expected, rtol=1e-5)


def test_masked_steps_do_not_count() -> None:
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 3, (2, 4, 3)).astype(np.float32)
    targets = rng.integers(0, 2, (2, 4, 3)).astype(np.float32)
    mask = np.array([[1, 0, 1, 0], [0, 0, 0, 0]], np.float32)
    changed = logits.copy()
    changed[:, 1] += 50.0
    changed[:, 3] = -7.0
    changed[1] = 9.0
    for f in (cost_bits, bit_errors):
        np.testing.assert_array_equal(f(logits, targets, mask), f(changed, targets, mask))
        assert f(logits, targets, mask)[1] == 0


def test_extreme_logits_are_finite_in_value_and_gradient() -> None:
    logits = jnp.array([[[100.0, -100.0, 100.0, -100.0]]])
    targets = jnp.array([[[1.0, 0.0, 0.0, 1.0]]])  # two confident right, two confident wrong
    mask = jnp.ones((1, 1))
    cost = cost_bits(logits, targets, mask)
    np.testing.assert_allclose(cost, [2 * 100 / math.log(2)], rtol=1e-5)
    grad = jax.grad(lambda x: cost_bits(x, targets, mask).sum())(logits)
    assert np.all(np.isfinite(grad))
    np.testing.assert_array_equal(bit_errors(logits, targets, mask), [2.0])


# bit_errors ------------------------------------------------------------------------------------


def test_bit_errors_hand_case() -> None:
    logits = jnp.array([[[3.0, -1.0], [0.5, 0.0]], [[-2.0, 2.0], [1e-9, -1e-9]]])
    targets = jnp.array([[[1.0, 1.0], [0.0, 0.0]], [[0.0, 1.0], [1.0, 1.0]]])
    # seq 0: step 0 has one wrong (-1 vs 1); step 1: 0.5 predicts 1 (wrong), 0.0 predicts 0 (right).
    # seq 1: step 0 right; step 1: a tiny positive logit predicts 1 (right), tiny negative 0 (wrong).
    np.testing.assert_array_equal(bit_errors(logits, targets, jnp.ones((2, 2))), [2.0, 1.0])
    mask = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(bit_errors(logits, targets, mask), [1.0, 1.0])


# n-gram Bayes-optimal reference ----------------------------------------------------------------


def _slow_probs(bits: list[int], order: int) -> list[float]:
    """Eq. 10 with plain loops: for each t, count what followed the same context before t."""
    out = []
    for t in range(len(bits)):
        if t < order - 1:
            out.append(0.5)
            continue
        context = bits[t - order + 1 : t]
        n1 = n0 = 0
        for s in range(order - 1, t):
            if bits[s - order + 1 : s] == context:
                n1 += bits[s]
                n0 += 1 - bits[s]
        out.append((n1 + 0.5) / (n1 + n0 + 1))
    return out


def test_ngram_probs_hand_case_all_ones() -> None:
    # Order 2: the context is the previous bit. After the first bit, every step's context is 1
    # and it has been followed by 1 at every earlier step: (N1 + 1/2) / (N1 + 1) with N1 = t - 1.
    probs = ngram_optimal_probs(jnp.ones((1, 5)), order=2)
    np.testing.assert_allclose(probs[0], [0.5, 0.5, 1.5 / 2, 2.5 / 3, 3.5 / 4], rtol=1e-6)
    expected_cost = -sum(math.log2(p) for p in [0.5, 0.5, 0.75, 2.5 / 3, 3.5 / 4])
    np.testing.assert_allclose(ngram_optimal_cost(jnp.ones((1, 5)), order=2), [expected_cost], rtol=1e-6)


@pytest.mark.parametrize("order", [1, 2, 3, 6])
def test_ngram_probs_match_a_slow_reference(order: int) -> None:
    rng = np.random.default_rng(order)
    # Skewed bits make repeated contexts (and non-trivial counts) common in short sequences.
    bits = (rng.random((4, 40)) < np.array([[0.2], [0.5], [0.8], [0.95]])).astype(int)
    fast = np.asarray(ngram_optimal_probs(jnp.asarray(bits, jnp.float32), order=order))
    slow = np.array([_slow_probs(list(row), order) for row in bits])
    np.testing.assert_allclose(fast, slow, rtol=1e-6)
    mask = np.ones_like(bits, float)
    mask[:, 30:] = 0
    slow_cost = -(np.log2(np.where(bits == 1, slow, 1 - slow)) * mask).sum(-1)
    fast_cost = ngram_optimal_cost(jnp.asarray(bits), jnp.asarray(mask), order)
    np.testing.assert_allclose(fast_cost, slow_cost, rtol=1e-5)


def test_ngram_probs_only_look_backwards() -> None:
    bits = jnp.asarray(np.random.default_rng(5).integers(0, 2, (2, 30)), jnp.float32)
    changed = bits.at[:, 20:].set(1.0 - bits[:, 20:])
    before, after = ngram_optimal_probs(bits), ngram_optimal_probs(changed)
    np.testing.assert_array_equal(before[:, :21], after[:, :21])


def test_ngram_probs_reject_bad_order() -> None:
    with pytest.raises(ValueError, match="order"):
        ngram_optimal_probs(jnp.zeros((1, 4)), order=0)


def test_context_probabilities_are_beta_half_half() -> None:
    # The arcsine distribution's CDF is (2/pi) arcsin(sqrt(x)); mean 1/2, variance 1/8.
    p = np.asarray(_arcsine(jax.random.key(0), (20000,)))
    assert np.all((0 <= p) & (p <= 1))
    for x in (0.01, 0.1, 0.3, 0.5, 0.9, 0.99):
        assert abs(np.mean(p <= x) - 2 / np.pi * np.arcsin(np.sqrt(x))) < 0.015
    assert abs(p.var() - 1 / 8) < 0.005


def test_optimal_cost_on_paper_sequences_is_about_133_bits() -> None:
    # Measured over 50,000 sequences: 133.1 +- 0.2 bits (std per sequence ~36, so the mean of 1000
    # has a standard error of ~1.15 bits). The paper quotes ~133; +-5 bits is ~4 standard errors.
    task = DynamicNGramsTask()  # order 6, 200 bits

    @jax.jit
    def mean_cost(key: jax.Array) -> jax.Array:
        batch = task.sample(key, 1000)
        return ngram_optimal_cost(batch.targets[..., 0], batch.mask).mean()

    assert abs(float(mean_cost(jax.random.key(0))) - 133.0) < 5.0
