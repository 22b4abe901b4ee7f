"""Tests of ntm._columns: the memory operations on the transposed memory [B, M, N] used inside the
model's scan equal the row-layout equations of ntm.memory and ntm.addressing, in values and in
gradients, and their hand-written gradients pass finite-difference checks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from ntm import addressing, memory
from ntm.fast import columns as _columns


def _t(a):
    return jnp.swapaxes(a, -1, -2)


def _args(seed, batch=3, heads=2, n=7, m=5, dtype=np.float32):
    rng = np.random.default_rng(seed)
    mem = rng.normal(size=(batch, n, m))
    w = rng.uniform(0.01, 1, size=(batch, heads, n))
    w /= w.sum(-1, keepdims=True)
    erase = rng.uniform(0, 1, size=(batch, heads, m))
    add = rng.normal(size=(batch, heads, m))
    key = rng.normal(size=(batch, heads, m))
    return tuple(jnp.asarray(a, dtype) for a in (mem, w, erase, add, key))


def _vjp(f, args, seed):
    """Value and the gradient of a random projection of f's output with respect to every argument."""
    out = f(*args)
    cot = jnp.asarray(np.random.default_rng(seed).normal(size=out.shape), out.dtype)
    return out, jax.grad(lambda *a: jnp.sum(f(*a) * cot), argnums=tuple(range(len(args))))(*args)


def _ref_write(mem, w, erase, add):
    """eqs. 3-4 with plain jax.numpy, left to automatic differentiation."""
    keep = jnp.prod(1.0 - w[..., :, :, None] * erase[..., :, None, :], axis=-3)
    return mem * keep + jnp.einsum("bhn,bhm->bnm", w, add)


def _ref_cosine(mem, key):
    dot = jnp.einsum("bnm,bhm->bhn", mem, key)
    norm_mem = jnp.sqrt(jnp.sum(mem * mem, -1) + 1e-12)
    norm_key = jnp.sqrt(jnp.sum(key * key, -1) + 1e-12)
    return dot / (norm_mem[:, None, :] * norm_key[..., None])


@pytest.mark.parametrize("heads", [1, 2, 3])
def test_write_is_the_transpose_of_memory_write(heads):
    mem, w, erase, add, _ = _args(heads, heads=heads)
    np.testing.assert_allclose(
        _columns.write(_t(mem), w, erase, add), _t(memory.write(mem, w, erase, add)), rtol=1e-6, atol=1e-6
    )


@pytest.mark.parametrize("heads", [1, 3])
def test_write_gradients_match_automatic_differentiation(heads, x64):
    mem, w, erase, add, _ = _args(10 + heads, heads=heads, dtype=np.float64)
    out, grads = _vjp(lambda mt, *a: _columns.write(mt, *a), (_t(mem), w, erase, add), 0)
    ref, ref_grads = _vjp(lambda mt, *a: _t(_ref_write(_t(mt), *a)), (_t(mem), w, erase, add), 0)
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("heads", [1, 2])
def test_read_is_memory_read(heads):
    mem, w, _, _, _ = _args(20 + heads, heads=heads)
    np.testing.assert_allclose(_columns.read(_t(mem), w), memory.read(mem, w), rtol=1e-6, atol=1e-6)


def test_read_by_hand():
    # memory rows [1, 2], [3, 4], [5, 6]; weights 0.2, 0.3, 0.5 -> [3.6, 4.6]
    mt = jnp.asarray([[[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]])  # [B=1, M=2, N=3]
    w = jnp.asarray([[[0.2, 0.3, 0.5]]])
    np.testing.assert_allclose(_columns.read(mt, w), [[[3.6, 4.6]]], rtol=1e-6)


@pytest.mark.parametrize("heads", [1, 2])
def test_read_gradients_match_automatic_differentiation(heads, x64):
    mem, w, _, _, _ = _args(30 + heads, heads=heads, dtype=np.float64)
    _, grads = _vjp(_columns.read, (_t(mem), w), 1)
    _, ref_grads = _vjp(lambda mt, w: jnp.einsum("bnm,bhn->bhm", _t(mt), w), (_t(mem), w), 1)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("heads", [1, 3])
def test_cosine_equals_the_row_layout(heads):
    mem, _, _, _, key = _args(40 + heads, heads=heads)
    np.testing.assert_allclose(
        _columns.cosine_similarity(_t(mem), key), addressing.cosine_similarity(mem[:, None], key),
        rtol=1e-5, atol=1e-6,
    )


@pytest.mark.parametrize("heads", [1, 3])
def test_cosine_gradients_match_automatic_differentiation(heads, x64):
    mem, _, _, _, key = _args(50 + heads, heads=heads, dtype=np.float64)
    _, grads = _vjp(_columns.cosine_similarity, (_t(mem), key), 2)
    _, ref_grads = _vjp(lambda mt, k: _ref_cosine(_t(mt), k), (_t(mem), key), 2)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("num_shifts", [1, 3, 5, 7])
def test_shift_equals_the_addressing_shift_with_its_gradients(num_shifts, x64):
    rng = np.random.default_rng(num_shifts)
    w = jnp.asarray(rng.uniform(0, 1, (3, 2, 7)))
    s = jax.nn.softmax(jnp.asarray(rng.normal(size=(3, 2, num_shifts))))
    np.testing.assert_array_equal(_columns.shift(w, s), addressing.shift(w, s))  # same sums, same order
    _, grads = _vjp(_columns.shift, (w, s), 2)
    _, ref_grads = _vjp(addressing.shift, (w, s), 2)
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-14)
    check_grads(_columns.shift, (w, s), order=1, modes=("rev",))


def test_address_equals_the_row_layout():
    mem, w, _, _, key = _args(60, heads=2)
    rng = np.random.default_rng(0)
    beta = jnp.asarray(rng.uniform(0, 10, (3, 2)), jnp.float32)
    gate = jnp.asarray(rng.uniform(0, 1, (3, 2)), jnp.float32)
    s = jax.nn.softmax(jnp.asarray(rng.normal(size=(3, 2, 3)), jnp.float32))
    gamma = jnp.asarray(1 + rng.uniform(0, 5, (3, 2)), jnp.float32)
    np.testing.assert_allclose(
        _columns.address(_t(mem), w, key, beta, gate, s, gamma),
        addressing.address(mem[:, None], w, key, beta, gate, s, gamma),
        rtol=1e-5, atol=1e-6,
    )


def test_finite_difference_gradients(x64):
    mem, w, erase, add, key = _args(70, batch=2, heads=2, n=5, m=3, dtype=np.float64)
    check_grads(_columns.write, (_t(mem), w, erase, add), order=1, modes=("rev",))
    check_grads(_columns.read, (_t(mem), w), order=1, modes=("rev",))
    check_grads(_columns.cosine_similarity, (_t(mem), key), order=1, modes=("rev",))


def test_zero_memory_and_zero_key_give_finite_values_and_gradients():
    mt = jnp.zeros((2, 4, 6))
    key = jnp.zeros((2, 1, 4))

    def f(mt, key):
        return jnp.sum(_columns.cosine_similarity(mt, key) ** 2) + jnp.sum(_columns.read(mt, jnp.full((2, 1, 6), 1 / 6)))

    value, grads = jax.value_and_grad(f, argnums=(0, 1))(mt, key)
    assert np.isfinite(value) and value == 0.0
    assert all(np.all(np.isfinite(g)) for g in grads)
