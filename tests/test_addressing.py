"""Tests of ntm.addressing: the four addressing stages of paper section 3.3 (eqs. 5-9).

Every stage is checked against numbers worked out by hand and against slow, independent NumPy
references written straight from the equations; then for normalisation, for NaN-free values and
gradients in degenerate cases, and with numeric gradient checks in float64.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from ntm import addressing
from ntm.addressing import address, content_weights, interpolate, sharpen, shift

try:  # hypothesis is in the dev extra; without it only the property-based test is skipped
    from hypothesis import given
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    given = st = None

# The functions under test, compiled: one compilation per shape is much cheaper than eager
# op-by-op dispatch, and jit is how the library runs them.  Shape errors are tested unjitted.
jit_cosine = jax.jit(addressing.cosine_similarity)
jit_content = jax.jit(addressing.content_weights)
jit_interpolate = jax.jit(addressing.interpolate)
jit_shift = jax.jit(addressing.shift)
jit_sharpen = jax.jit(addressing.sharpen)
jit_address = jax.jit(addressing.address)


# ------------------------------------------------------------------------------------------------
# Independent NumPy references, written from the paper's equations with explicit loops.


def ref_cosine(mem: np.ndarray, key: np.ndarray) -> np.ndarray:
    """eq. 6 for one memory [N, M] and key [M]."""
    return np.array([row @ key / (np.linalg.norm(row) * np.linalg.norm(key)) for row in mem])


def ref_content(mem, key, beta):
    """eq. 5: softmax over rows of beta * cosine."""
    z = np.exp(beta * ref_cosine(mem, key))
    return z / z.sum()


def ref_shift(w: np.ndarray, s: np.ndarray) -> np.ndarray:
    """eq. 8, ``out(i) = sum_j w(j) s(i - j)`` with indices modulo N, for one w [N] and s [S].

    ``s[k]`` is the weight of the integer shift ``d = k - S//2``; ``s(i - j)`` means the weight
    of the shift d with ``d == i - j (mod N)``.
    """
    n, num_shifts = len(w), len(s)
    out = np.zeros(n)
    for i in range(n):
        for j in range(n):
            for k in range(num_shifts):
                d = k - num_shifts // 2
                if (i - j - d) % n == 0:
                    out[i] += w[j] * s[k]
    return out


def ref_sharpen(w, gamma):
    """eq. 9."""
    p = w**gamma
    return p / p.sum()


def ref_address(mem, w_prev, key, beta, gate, s, gamma):
    """The whole pipeline for one head."""
    wc = ref_content(mem, key, beta)
    wg = gate * wc + (1 - gate) * w_prev
    return ref_sharpen(ref_shift(wg, s), gamma)


def batched(fn, lead, *arrays):
    """Apply a one-head reference at every index of the ``lead`` leading axes of its arguments."""
    out = None
    for idx in np.ndindex(*lead):
        r = fn(*(a[idx] for a in arrays))
        if out is None:
            out = np.empty(lead + np.shape(r))
        out[idx] = r
    return out


def random_weighting(rng: np.random.Generator, shape) -> np.ndarray:
    w = rng.uniform(0.01, 1.0, size=shape)
    return (w / w.sum(-1, keepdims=True)).astype(np.float32)


def assert_normalised(w, atol=1e-5):
    w = np.asarray(w)
    assert np.all(w >= 0), w
    np.testing.assert_allclose(w.sum(-1), 1.0, atol=atol)


# ------------------------------------------------------------------------------------------------
# Cosine similarity (eq. 6)


MEM_3x2 = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32)


def test_cosine_similarity_by_hand():
    sim = jit_cosine(jnp.asarray(MEM_3x2), jnp.array([1.0, 0.0]))
    np.testing.assert_allclose(sim, [1.0, 0.0, 1 / math.sqrt(2)], rtol=1e-6)
    sim = jit_cosine(jnp.asarray(MEM_3x2), jnp.array([-2.0, -2.0]))
    np.testing.assert_allclose(sim, [-1 / math.sqrt(2), -1 / math.sqrt(2), -1.0], rtol=1e-6)


@pytest.mark.parametrize("scale", [1e-3, 0.5, 7.0, 1e3])
def test_cosine_similarity_is_scale_free(scale):
    rng = np.random.default_rng(0)
    mem, key = rng.normal(size=(5, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32)
    base = jit_cosine(jnp.asarray(mem), jnp.asarray(key))
    np.testing.assert_allclose(base, ref_cosine(mem, key), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jit_cosine(jnp.asarray(mem * scale), jnp.asarray(key)), base, atol=1e-5)
    np.testing.assert_allclose(jit_cosine(jnp.asarray(mem), jnp.asarray(key * scale)), base, atol=1e-5)


def test_cosine_similarity_of_zero_vectors_is_zero():
    mem = jnp.array([[0.0, 0.0], [3.0, 4.0]])
    np.testing.assert_allclose(jit_cosine(mem, jnp.array([3.0, 4.0])), [0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(jit_cosine(mem, jnp.zeros(2)), [0.0, 0.0], atol=1e-6)


def test_cosine_similarity_broadcasts_memory_over_heads():
    rng = np.random.default_rng(1)
    mem = rng.normal(size=(2, 5, 3)).astype(np.float32)  # [B, N, M]
    keys = rng.normal(size=(2, 4, 3)).astype(np.float32)  # [B, H, M]
    sim = jit_cosine(jnp.asarray(mem)[:, None], jnp.asarray(keys))
    assert sim.shape == (2, 4, 5)
    for b in range(2):
        for h in range(4):
            np.testing.assert_allclose(sim[b, h], ref_cosine(mem[b], keys[b, h]), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------------
# Content addressing (eq. 5)


def test_content_weights_by_hand():
    # Cosines of key [1, 0] with rows [1,0], [0,1], [1,1] are 1, 0, 1/sqrt(2); beta = 2.
    w = jit_content(jnp.asarray(MEM_3x2), jnp.array([1.0, 0.0]), jnp.array(2.0))
    e = [math.exp(2.0), math.exp(0.0), math.exp(2.0 / math.sqrt(2))]
    np.testing.assert_allclose(w, [x / sum(e) for x in e], rtol=1e-6)
    # Worked-out decimals, as a second check of the arithmetic above.
    np.testing.assert_allclose(w, [0.59101, 0.07998, 0.32900], atol=1e-5)


def test_content_weights_beta_zero_is_uniform():
    rng = np.random.default_rng(2)
    w = jit_content(jnp.asarray(rng.normal(size=(6, 3))), jnp.asarray(rng.normal(size=3)), jnp.array(0.0))
    np.testing.assert_allclose(w, np.full(6, 1 / 6), rtol=1e-6)


def test_content_weights_large_beta_selects_matching_row():
    rng = np.random.default_rng(3)
    mem = rng.normal(size=(8, 5)).astype(np.float32)
    w = jit_content(jnp.asarray(mem), jnp.asarray(2.5 * mem[5]), jnp.array(1e3))
    assert int(jnp.argmax(w)) == 5
    np.testing.assert_allclose(w[5], 1.0, atol=1e-6)


@pytest.mark.parametrize("lead", [(), (3,), (2, 3)])
def test_content_weights_match_reference(lead):
    rng = np.random.default_rng(4)
    mem = rng.normal(size=lead + (7, 4)).astype(np.float32)
    key = rng.normal(size=lead + (4,)).astype(np.float32)
    beta = rng.uniform(0, 10, size=lead).astype(np.float32)
    w = jit_content(jnp.asarray(mem), jnp.asarray(key), jnp.asarray(beta))
    np.testing.assert_allclose(w, batched(ref_content, lead, mem, key, beta), rtol=1e-5, atol=1e-6)
    assert_normalised(w)


# ------------------------------------------------------------------------------------------------
# Interpolation (eq. 7)


def test_interpolate_by_hand():
    wc, wp = jnp.array([0.7, 0.2, 0.1]), jnp.array([0.1, 0.1, 0.8])
    # 0.25 * [0.7, 0.2, 0.1] + 0.75 * [0.1, 0.1, 0.8] = [0.25, 0.125, 0.625]
    np.testing.assert_allclose(jit_interpolate(wc, wp, jnp.array(0.25)), [0.25, 0.125, 0.625], rtol=1e-6)
    np.testing.assert_allclose(jit_interpolate(wc, wp, jnp.array(1.0)), wc)
    np.testing.assert_allclose(jit_interpolate(wc, wp, jnp.array(0.0)), wp)


def test_interpolate_gate_per_head():
    wc = jnp.array([[[1.0, 0.0], [0.0, 1.0]]])  # [B=1, H=2, N=2]
    wp = jnp.array([[[0.0, 1.0], [1.0, 0.0]]])
    out = jit_interpolate(wc, wp, jnp.array([[0.9, 0.2]]))
    np.testing.assert_allclose(out, [[[0.9, 0.1], [0.8, 0.2]]], rtol=1e-6)


# ------------------------------------------------------------------------------------------------
# Convolutional shift (eq. 8)


@pytest.mark.parametrize(
    "s, expected",
    [
        # s = weights of shifts (-1, 0, +1). out(i) = s(-1) w(i+1) + s(0) w(i) + s(+1) w(i-1).
        ([0.5, 0.5, 0.0], [0.15, 0.25, 0.35, 0.25]),  # 0.5 (w(i) + w(i+1))
        ([0.0, 0.5, 0.5], [0.25, 0.15, 0.25, 0.35]),  # 0.5 (w(i) + w(i-1))
        ([0.2, 0.5, 0.3], [0.21, 0.19, 0.29, 0.31]),  # e.g. i=0: 0.2*0.2 + 0.5*0.1 + 0.3*0.4
        ([0.0, 0.0, 1.0], [0.4, 0.1, 0.2, 0.3]),  # shift +1: focus moves from row i to i+1
        ([1.0, 0.0, 0.0], [0.2, 0.3, 0.4, 0.1]),  # shift -1
    ],
)
def test_shift_by_hand(s, expected):
    out = jit_shift(jnp.array([0.1, 0.2, 0.3, 0.4]), jnp.array(s))
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)


def test_shift_five_wide_by_hand():
    # shifts -2..+2 with weights [0.1, 0, 0, 0, 0.9] on N=5: out(i) = 0.1 w(i+2) + 0.9 w(i-2).
    w = jnp.array([0.0, 1.0, 0.0, 0.0, 0.0])
    out = jit_shift(w, jnp.array([0.1, 0.0, 0.0, 0.0, 0.9]))
    np.testing.assert_allclose(out, [0.0, 0.0, 0.0, 0.9, 0.1], atol=1e-7)


@pytest.mark.parametrize("num_shifts", [1, 3, 5, 7])
def test_shift_one_hot_is_roll(num_shifts):
    rng = np.random.default_rng(num_shifts)
    w = random_weighting(rng, (2, 8))
    for k in range(num_shifts):
        s = np.zeros((2, num_shifts), np.float32)
        s[:, k] = 1.0
        np.testing.assert_allclose(jit_shift(w, s), np.roll(w, k - num_shifts // 2, axis=-1), atol=1e-7)


def test_shift_named_one_hots():
    w = np.arange(1.0, 7.0, dtype=np.float32) / 21.0
    plus, minus, centre = np.eye(3, dtype=np.float32)[[2, 0, 1]]  # s[k] weighs the shift k - 1
    np.testing.assert_allclose(jit_shift(w, plus), np.roll(w, 1), atol=1e-7)
    np.testing.assert_allclose(jit_shift(w, minus), np.roll(w, -1), atol=1e-7)
    np.testing.assert_allclose(jit_shift(w, centre), w, atol=1e-7)


@pytest.mark.parametrize("i", range(6))
def test_shift_plus_one_moves_focus_to_next_row(i):
    w = np.eye(6, dtype=np.float32)[i]
    out = jit_shift(w, np.array([0.0, 0.0, 1.0], np.float32))
    assert int(np.argmax(out)) == (i + 1) % 6
    np.testing.assert_allclose(out, np.eye(6)[(i + 1) % 6], atol=1e-7)


@pytest.mark.parametrize("num_shifts", [1, 3, 5, 7])
@pytest.mark.parametrize("n", [7, 10])
def test_shift_matches_loop_reference(num_shifts, n):
    rng = np.random.default_rng(100 * num_shifts + n)
    w = random_weighting(rng, (2, 3, n))
    s = random_weighting(rng, (2, 3, num_shifts))
    expected = batched(ref_shift, (2, 3), w, s)
    np.testing.assert_allclose(jit_shift(jnp.asarray(w), jnp.asarray(s)), expected, rtol=1e-5, atol=1e-7)


def test_shift_with_as_many_shifts_as_rows():
    rng = np.random.default_rng(7)
    w, s = random_weighting(rng, 5), random_weighting(rng, 5)
    np.testing.assert_allclose(jit_shift(jnp.asarray(w), jnp.asarray(s)), ref_shift(w, s), rtol=1e-5, atol=1e-7)


if given is not None:

    @st.composite
    def weighting_and_shift(draw):
        n = draw(st.sampled_from([1, 3, 4, 7, 8]))  # few shapes: each compiles shift once
        num_shifts = draw(st.sampled_from([k for k in (1, 3, 5, 7) if k <= n]))
        unit = st.floats(0.0, 1.0, allow_nan=False, width=32)
        w = np.array(draw(st.lists(unit, min_size=n, max_size=n)), np.float64)
        s = np.array(draw(st.lists(unit, min_size=num_shifts, max_size=num_shifts)), np.float64)
        w[draw(st.integers(0, n - 1))] += 0.5  # never all zero
        s[draw(st.integers(0, num_shifts - 1))] += 0.5
        return (w / w.sum()).astype(np.float32), (s / s.sum()).astype(np.float32)


    @given(weighting_and_shift())
    def test_shift_property_normalised_nonnegative_and_matches_reference(ws):
        w, s = ws
        out = np.asarray(jit_shift(jnp.asarray(w), jnp.asarray(s)))
        assert np.all(out >= 0)
        np.testing.assert_allclose(out.sum(), 1.0, atol=1e-5)
        np.testing.assert_allclose(out, ref_shift(w.astype(np.float64), s.astype(np.float64)), atol=1e-6)

else:  # pragma: no cover

    @pytest.mark.skip(reason="hypothesis is not installed")
    def test_shift_property_normalised_nonnegative_and_matches_reference():
        pass


@pytest.mark.parametrize("num_shifts", [2, 4])
def test_shift_rejects_even_number_of_shifts(num_shifts):
    with pytest.raises(ValueError, match=r"(?i)shift|S="):
        shift(jnp.ones(8) / 8, jnp.ones(num_shifts) / num_shifts)


def test_shift_rejects_more_shifts_than_rows():
    with pytest.raises(ValueError, match=r"S=5"):
        shift(jnp.ones(3) / 3, jnp.ones(5) / 5)


# ------------------------------------------------------------------------------------------------
# Sharpening (eq. 9)


def test_sharpen_by_hand():
    out = jit_sharpen(jnp.array([0.2, 0.3, 0.5]), jnp.array(2.0))
    np.testing.assert_allclose(out, np.array([0.04, 0.09, 0.25]) / 0.38, rtol=1e-5)


def test_sharpen_gamma_one_is_identity_on_a_weighting():
    w = jnp.array([0.1, 0.0, 0.6, 0.3])
    np.testing.assert_allclose(jit_sharpen(w, jnp.array(1.0)), w, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("gamma", [1.0, 1.7, 3.0, 10.0])
def test_sharpen_matches_power_formula(gamma):
    rng = np.random.default_rng(int(gamma * 10))
    w = random_weighting(rng, (3, 6))
    out = jit_sharpen(w, np.full((3,), gamma, np.float32))
    expected = batched(lambda a: ref_sharpen(a.astype(np.float64), gamma), (3,), w)
    np.testing.assert_allclose(out, expected, rtol=1e-4)


def test_sharpen_keeps_exact_zeros_and_focuses_at_large_gamma():
    w = jnp.array([0.0, 0.3, 0.0, 0.7])
    out = jit_sharpen(w, jnp.array(3.0))
    assert out[0] == 0.0 and out[2] == 0.0
    np.testing.assert_allclose(out, [0.0, 0.027 / 0.37, 0.0, 0.343 / 0.37], rtol=1e-5)
    # 0.3**100 underflows float32; the result must still be a normalised one-hot, not 0/0.
    np.testing.assert_allclose(jit_sharpen(w, jnp.array(100.0)), [0.0, 0.0, 0.0, 1.0], atol=1e-6)


def test_sharpen_normalises_unnormalised_input():
    w = jnp.array([2.0, 3.0, 5.0])  # a multiple of [0.2, 0.3, 0.5]
    np.testing.assert_allclose(jit_sharpen(w, jnp.array(2.0)), np.array([4.0, 9.0, 25.0]) / 38.0, rtol=1e-5)


# ------------------------------------------------------------------------------------------------
# The whole pipeline


def random_head_inputs(rng, batch, heads, n, m, num_shifts):
    mem = rng.normal(size=(batch, n, m)).astype(np.float32)
    w_prev = random_weighting(rng, (batch, heads, n))
    key = rng.normal(size=(batch, heads, m)).astype(np.float32)
    beta = rng.uniform(0, 20, size=(batch, heads)).astype(np.float32)
    gate = rng.uniform(0, 1, size=(batch, heads)).astype(np.float32)
    s = random_weighting(rng, (batch, heads, num_shifts))
    gamma = rng.uniform(1, 5, size=(batch, heads)).astype(np.float32)
    return mem, w_prev, key, beta, gate, s, gamma


@pytest.mark.parametrize("batch, heads, n, m, num_shifts", [(1, 1, 5, 3, 3), (2, 3, 8, 4, 3), (3, 2, 7, 2, 5)])
def test_address_matches_reference_with_head_axis(batch, heads, n, m, num_shifts):
    rng = np.random.default_rng(batch * heads * n)
    mem, w_prev, key, beta, gate, s, gamma = random_head_inputs(rng, batch, heads, n, m, num_shifts)
    out = jit_address(jnp.asarray(mem)[:, None], *map(jnp.asarray, (w_prev, key, beta, gate, s, gamma)))
    assert out.shape == (batch, heads, n)
    mem_b = np.broadcast_to(mem[:, None], (batch, heads, n, m)).astype(np.float64)
    rest = (a.astype(np.float64) for a in (w_prev, key, beta, gate, s, gamma))
    expected = batched(ref_address, (batch, heads), mem_b, *rest)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-6)
    assert_normalised(out)


def test_address_location_mode_rotates_previous_weighting():
    # gate 0, one-hot shift +1, gamma 1: pure location iteration (section 3.3.2).
    rng = np.random.default_rng(5)
    mem, w_prev = rng.normal(size=(6, 3)).astype(np.float32), random_weighting(rng, 6)
    key, plus_one = np.ones(3, np.float32), np.array([0.0, 0.0, 1.0], np.float32)
    out = jit_address(mem, w_prev, key, np.float32(5.0), np.float32(0.0), plus_one, np.float32(1.0))
    np.testing.assert_allclose(out, np.roll(w_prev, 1), rtol=1e-5, atol=1e-7)


def test_address_content_mode_is_content_weights():
    # gate 1, no shift, gamma 1: pure content lookup.
    rng = np.random.default_rng(6)
    mem, key = rng.normal(size=(6, 3)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    w_prev, no_shift = np.full(6, 1 / 6, np.float32), np.array([0.0, 1.0, 0.0], np.float32)
    out = jit_address(mem, w_prev, key, np.float32(3.0), np.float32(1.0), no_shift, np.float32(1.0))
    np.testing.assert_allclose(out, ref_content(mem, key, 3.0), rtol=1e-5)


@pytest.mark.parametrize("lead", [(), (4,), (2, 3)])
def test_every_stage_keeps_weightings_normalised(lead):
    rng = np.random.default_rng(len(lead))
    n, m = 9, 3
    mem = jnp.asarray(rng.normal(size=lead + (n, m)).astype(np.float32))
    key = jnp.asarray(rng.normal(size=lead + (m,)).astype(np.float32))
    beta = jnp.asarray(rng.uniform(0, 50, size=lead).astype(np.float32))
    gate = jnp.asarray(rng.uniform(0, 1, size=lead).astype(np.float32))
    gamma = jnp.asarray(rng.uniform(1, 20, size=lead).astype(np.float32))
    w_prev = jnp.asarray(random_weighting(rng, lead + (n,)))
    s = jnp.asarray(random_weighting(rng, lead + (3,)))
    wc = jit_content(mem, key, beta)
    wg = jit_interpolate(wc, w_prev, gate)
    ws = jit_shift(wg, s)
    wsh = jit_sharpen(ws, gamma)
    for w in (wc, wg, ws, wsh):
        assert w.shape == lead + (n,)
        assert_normalised(w)
    np.testing.assert_allclose(jit_address(mem, w_prev, key, beta, gate, s, gamma), wsh, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------------------------------------
# Degenerate inputs: no NaN or inf in values or gradients (float32)


def degenerate_cases():
    """(id, memory [N, M], key [M], beta, gate, gamma) for every combination of a degenerate
    memory or key with extreme key strengths, gates and sharpening exponents."""
    n, m = 5, 3
    rng = np.random.default_rng(9)
    mem = rng.normal(size=(n, m)).astype(np.float32)
    mem_zero_rows = mem.copy()
    mem_zero_rows[[1, 3]] = 0.0
    key = rng.normal(size=m).astype(np.float32)
    zeros_mem, zero_key = np.zeros((n, m), np.float32), np.zeros(m, np.float32)
    memories_and_keys = {
        "zero-rows": (mem_zero_rows, key),
        "key-on-zero-row-memory": (mem_zero_rows, mem_zero_rows[0].copy()),
        "all-zero-memory": (zeros_mem, key),
        "zero-key": (mem, zero_key),
        "zero-key-zero-memory": (zeros_mem, zero_key),
        "key-equals-row": (mem, mem[4].copy()),
        "tiny-memory": (np.full((n, m), 1e-6, np.float32), key),
    }
    cases = []
    for name, (mem_, key_) in memories_and_keys.items():
        for beta in (0.0, 1.0, 1e4):
            for gamma in (1.0, 100.0):
                for gate in (0.0, 0.5, 1.0):
                    case_id = f"{name}-beta{beta:g}-gamma{gamma:g}-gate{gate:g}"
                    cases.append((case_id, mem_, key_, beta, gate, gamma))
    return cases


@pytest.mark.parametrize("s", [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.2, 0.5, 0.3]], ids=["centre", "plus1", "soft"])
def test_address_degenerate_values_and_gradients_are_finite(s):
    # All cases run as one batch (address is batched over leading axes); the loss is a sum over
    # the batch, so each case's gradient is its own.  The previous weighting is one-hot, so with a
    # one-hot shift exact zeros reach sharpen.
    cases = degenerate_cases()
    ids = [c[0] for c in cases]
    mem, key = (jnp.asarray(np.stack([c[i] for c in cases])) for i in (1, 2))
    beta, gate, gamma = (jnp.asarray(np.array([c[i] for c in cases], np.float32)) for i in (3, 4, 5))
    n = mem.shape[1]
    w_prev = np.zeros((len(cases), n), np.float32)
    w_prev[:, 2] = 1.0
    s = np.broadcast_to(np.array(s, np.float32), (len(cases), 3))
    coeffs = np.linspace(-1.0, 1.0, n, dtype=np.float32)
    out, grads = _address_value_and_grads(mem, w_prev, key, beta, gate, s, gamma, coeffs)
    bad = [ids[i] for i in range(len(cases)) if not np.all(np.isfinite(np.asarray(out[i])))]
    assert not bad, f"non-finite weightings: {bad}"
    assert_normalised(out)
    for name, g in zip(["memory", "w_prev", "key", "beta", "gate", "s", "gamma"], grads):
        g = np.asarray(g).reshape(len(cases), -1)
        bad = [ids[i] for i in range(len(cases)) if not np.all(np.isfinite(g[i]))]
        assert not bad, f"non-finite gradient w.r.t. {name}: {bad}"


@jax.jit
def _address_value_and_grads(mem, w_prev, key, beta, gate, s, gamma, coeffs):
    def loss(*a):
        return jnp.sum(address(*a) * coeffs)

    out = address(mem, w_prev, key, beta, gate, s, gamma)
    return out, jax.grad(loss, argnums=tuple(range(7)))(mem, w_prev, key, beta, gate, s, gamma)


@pytest.mark.parametrize("gamma", [1.0, 2.0, 100.0])
@pytest.mark.parametrize(
    "w",
    [[0.0, 1.0, 0.0, 0.0], [0.0, 0.5, 0.5, 0.0], [1e-30, 1.0, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]],
    ids=["one-hot", "two-zeros", "tiny", "uniform"],
)
def test_sharpen_and_shift_with_exact_zeros_are_finite(w, gamma):
    out, grads = _shift_sharpen_value_and_grads(jnp.array(w), jnp.array([0.0, 0.0, 1.0]), jnp.float32(gamma))
    assert_normalised(out)
    for g in grads:
        assert np.all(np.isfinite(np.asarray(g))), grads


@jax.jit
def _shift_sharpen_value_and_grads(w, s, gamma):
    def loss(w, s, gamma):
        return jnp.sum(sharpen(shift(w, s), gamma) * jnp.arange(w.shape[-1], dtype=w.dtype))

    return sharpen(shift(w, s), gamma), jax.grad(loss, argnums=(0, 1, 2))(w, s, gamma)


@pytest.mark.parametrize("beta", [0.0, 1.0, 1e4])
def test_content_weights_zero_memory_and_key_gradients_finite(beta):
    zeros, ones = np.zeros((4, 3), np.float32), np.ones((4, 3), np.float32)
    for mem, key in [(zeros, zeros[0]), (zeros, ones[0]), (ones, zeros[0])]:
        w, grads = _content_value_and_grads(mem, key, jnp.float32(beta))
        np.testing.assert_allclose(w, np.full(4, 0.25), rtol=1e-6)  # all similarities equal
        for g in grads:
            assert np.all(np.isfinite(np.asarray(g))), grads


@jax.jit
def _content_value_and_grads(mem, key, beta):
    def loss(mem, key, beta):
        return jnp.sum(content_weights(mem, key, beta) * jnp.arange(mem.shape[-2], dtype=mem.dtype))

    return content_weights(mem, key, beta), jax.grad(loss, argnums=(0, 1, 2))(mem, key, beta)


# ------------------------------------------------------------------------------------------------
# Numeric gradient checks in float64


def _f64(rng, shape, lo=None, hi=None):
    if lo is None:
        return jnp.asarray(rng.normal(size=shape), dtype=jnp.float64)
    return jnp.asarray(rng.uniform(lo, hi, size=shape), dtype=jnp.float64)


def _w64(rng, shape):
    w = rng.uniform(0.05, 1.0, size=shape)
    return jnp.asarray(w / w.sum(-1, keepdims=True), dtype=jnp.float64)


# cosine_similarity (and so content_weights and address) has a hand-written backward pass
# (jax.custom_vjp), which supports reverse mode only; the linear stages are checked both ways.
MODES = ("fwd", "rev")


BROADCAST_CASES = {  # memory shape, key shape
    "batched": ((2, 5, 3), (2, 3)),
    "key-batch": ((5, 3), (4, 3)),
    "shared-key": ((2, 5, 3), (3,)),
}  # memory broadcast over a heads axis is checked through address below


def test_check_grads_content_weights(x64):
    # The broadcast cases check that the custom backward pass sums gradients over the axes along
    # which an argument was broadcast.  All cases go through one compiled function.
    rng = np.random.default_rng(10)
    args = []
    for mem_shape, key_shape in BROADCAST_CASES.values():
        beta_shape = np.broadcast_shapes(mem_shape[:-2], key_shape[:-1])
        args += [_f64(rng, mem_shape), _f64(rng, key_shape), _f64(rng, beta_shape, 0.5, 5.0)]
    assert args[0].dtype == jnp.float64

    @jax.jit
    def all_cases(*a):  # content_weights = softmax(beta * cosine_similarity), with beta > 0
        return [content_weights(*a[i : i + 3]) for i in range(0, len(a), 3)]

    check_grads(all_cases, tuple(args), order=1, modes=("rev",))


def test_check_grads_interpolate_shift_sharpen(x64):
    rng = np.random.default_rng(11)
    args = (_w64(rng, (2, 6)), _w64(rng, (2, 6)), _f64(rng, (2,), 0.1, 0.9),  # interpolate
            _w64(rng, (2, 6)), _w64(rng, (2, 5)),  # shift
            _w64(rng, (2, 6)), _f64(rng, (2,), 1.0, 4.0))  # sharpen

    @jax.jit
    def stages(wc, wp, gate, w, s, w2, gamma):
        return interpolate(wc, wp, gate), shift(w, s), sharpen(w2, gamma)

    check_grads(stages, args, order=1, modes=MODES)


def test_check_grads_address_with_head_axis(x64):
    # Batch element 0 has a free memory; element 1 a fixed memory with a zero row.  A zero row has
    # similarity 0 to every key, a smooth function of the other arguments, so the derivatives
    # with respect to everything but that row must be the true ones.  (The zero row itself sits
    # at the kink of ||row||, where finite differences mean nothing, so it is held fixed.)
    rng = np.random.default_rng(12)
    h, n, m = 3, 6, 4
    fixed = np.asarray(rng.normal(size=(1, 1, n, m)))
    fixed[..., 2, :] = 0.0
    fixed = jnp.asarray(fixed)

    @jax.jit
    def f(mem, *args):
        return address(jnp.concatenate([mem, fixed]), *args)

    args = (
        _f64(rng, (1, 1, n, m)),  # memory[:, None]
        _w64(rng, (2, h, n)),
        _f64(rng, (2, h, m)),
        _f64(rng, (2, h), 0.5, 5.0),
        _f64(rng, (2, h), 0.1, 0.9),
        _w64(rng, (2, h, 3)),
        _f64(rng, (2, h), 1.0, 3.0),
    )
    check_grads(f, args, order=1, modes=("rev",))
