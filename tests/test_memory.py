"""Tests of ntm.memory: reading (eq. 2) and writing, erase then add (eqs. 3-4), with one or many heads."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from ntm import memory
from ntm.memory import read, write

jit_read = jax.jit(memory.read)
jit_write = jax.jit(memory.write)


# ------------------------------------------------------------------------------------------------
# Independent references


def ref_read(mem: np.ndarray, w: np.ndarray) -> np.ndarray:
    """eq. 2 for one memory [N, M] and one weighting [N]: sum_i w(i) M(i)."""
    return sum(w[i] * mem[i] for i in range(mem.shape[0]))


def ref_write(mem: np.ndarray, ws, erases, adds) -> np.ndarray:
    """eqs. 3-4 for one memory [N, M] and a list of heads: erases multiply, adds sum."""
    out = np.array(mem, np.float64)
    n, m = mem.shape
    for i in range(n):
        for j in range(m):
            keep = 1.0
            for w, e in zip(ws, erases):
                keep *= 1.0 - w[i] * e[j]
            out[i, j] = mem[i, j] * keep + sum(w[i] * a[j] for w, a in zip(ws, adds))
    return out


def ref_write_jnp(mem, w, erase, add):
    """The same, vectorised with plain jax.numpy and left to automatic differentiation
    (w [..., H, N], erase and add [..., H, M])."""
    keep = jnp.prod(1.0 - w[..., :, :, None] * erase[..., :, None, :], axis=-3)
    return mem * keep + jnp.einsum("...hn,...hm->...nm", w, add)


def random_write_args(rng, batch, heads, n, m, dtype=np.float32):
    mem = rng.normal(size=(batch, n, m))
    w = rng.uniform(0.01, 1, size=(batch, heads, n))
    w /= w.sum(-1, keepdims=True)
    erase = rng.uniform(0, 1, size=(batch, heads, m))
    add = rng.normal(size=(batch, heads, m))
    # NumPy arrays: the tests slice and permute them without compiling anything.
    return tuple(a.astype(dtype) for a in (mem, w, erase, add))


# ------------------------------------------------------------------------------------------------
# Read (eq. 2)


def test_read_by_hand():
    mem = np.array([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]], np.float32)  # [B=1, N=3, M=2]
    w = np.array([[0.2, 0.3, 0.5]], np.float32)
    # 0.2 [1, 2] + 0.3 [3, 4] + 0.5 [5, 6] = [0.2 + 0.9 + 2.5, 0.4 + 1.2 + 3.0]
    np.testing.assert_allclose(jit_read(mem, w), [[3.6, 4.6]], rtol=1e-6)


def test_read_one_hot_returns_the_row():
    mem = np.arange(12.0, dtype=np.float32).reshape(1, 4, 3)
    for i in range(4):
        np.testing.assert_allclose(jit_read(mem, np.eye(4, dtype=np.float32)[i][None]), mem[:, i])


@pytest.mark.parametrize("batch, n, m", [(1, 3, 2), (3, 7, 4)])
def test_read_matches_reference(batch, n, m):
    rng = np.random.default_rng(n)
    mem, w, _, _ = random_write_args(rng, batch, 1, n, m)
    out = jit_read(mem, w[:, 0])
    assert out.shape == (batch, m)
    for b in range(batch):
        np.testing.assert_allclose(out[b], ref_read(np.asarray(mem[b]), np.asarray(w[b, 0])), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_read_with_heads_equals_per_head_reads(heads):
    rng = np.random.default_rng(heads)
    mem, w, _, _ = random_write_args(rng, 3, heads, 6, 5)
    out = jit_read(mem, w)  # [B, H, M]
    assert out.shape == (3, heads, 5)
    for h in range(heads):
        np.testing.assert_allclose(out[:, h], jit_read(mem, w[:, h]), rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------------------------------
# Write (eqs. 3-4)


def test_write_by_hand():
    mem = np.array([[[1.0, 2.0], [3.0, 4.0]]], np.float32)
    w = np.array([[0.25, 0.75]], np.float32)
    erase = np.array([[1.0, 0.5]], np.float32)
    add = np.array([[2.0, -2.0]], np.float32)
    # erase: row 0 [1 (1 - 0.25), 2 (1 - 0.125)] = [0.75, 1.75]; row 1 [3 (1 - 0.75), 4 (1 - 0.375)] = [0.75, 2.5]
    # add:   row 0 + 0.25 [2, -2] = [1.25, 1.25];              row 1 + 0.75 [2, -2] = [2.25, 1.0]
    np.testing.assert_allclose(jit_write(mem, w, erase, add), [[[1.25, 1.25], [2.25, 1.0]]], rtol=1e-6)


def test_write_two_heads_by_hand():
    mem = np.array([[[2.0, 4.0], [6.0, 8.0]]], np.float32)
    w = np.array([[[0.5, 0.5], [1.0, 0.0]]], np.float32)  # [B, H=2, N=2]
    erase = np.array([[[1.0, 0.0], [0.5, 0.5]]], np.float32)
    add = np.array([[[1.0, 1.0], [0.0, 2.0]]], np.float32)
    # keep row 0 = (1 - 0.5 [1, 0]) (1 - 1.0 [0.5, 0.5]) = [0.25, 0.5];  row 1 = (1 - 0.5 [1, 0]) = [0.5, 1]
    # add  row 0 = 0.5 [1, 1] + 1.0 [0, 2] = [0.5, 2.5];                  row 1 = 0.5 [1, 1] = [0.5, 0.5]
    expected = [[[2 * 0.25 + 0.5, 4 * 0.5 + 2.5], [6 * 0.5 + 0.5, 8 * 1.0 + 0.5]]]
    np.testing.assert_allclose(jit_write(mem, w, erase, add), expected, rtol=1e-6)


@pytest.mark.parametrize("row", [0, 2, 4])
def test_write_one_hot_with_full_erase_replaces_the_row(row):
    rng = np.random.default_rng(row)
    mem = rng.normal(size=(2, 5, 3)).astype(np.float32)
    w = np.zeros((2, 5), np.float32)
    w[:, row] = 1.0
    add = rng.normal(size=(2, 3)).astype(np.float32)
    out = np.asarray(jit_write(mem, w, np.ones((2, 3), np.float32), add))
    np.testing.assert_allclose(out[:, row], add, rtol=1e-6)
    others = [i for i in range(5) if i != row]
    np.testing.assert_array_equal(out[:, others], mem[:, others])


def test_write_without_erase_adds_and_with_zero_weighting_changes_nothing():
    rng = np.random.default_rng(0)
    mem, w, erase, add = random_write_args(rng, 2, 1, 4, 3)
    mem, w, erase, add = mem, w[:, 0], erase[:, 0], add[:, 0]
    out = jit_write(mem, w, np.zeros_like(erase), add)
    np.testing.assert_allclose(out, mem + w[..., None] * add[:, None, :], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(jit_write(mem, np.zeros_like(w), erase, add), mem)


@pytest.mark.parametrize("heads", [1, 2, 3, 5])
def test_write_matches_reference(heads):
    rng = np.random.default_rng(10 + heads)
    mem, w, erase, add = random_write_args(rng, 2, heads, 6, 4)
    out = jit_write(mem, w, erase, add)
    assert out.shape == mem.shape
    for b in range(2):
        expected = ref_write(np.asarray(mem[b]), np.asarray(w[b]), np.asarray(erase[b]), np.asarray(add[b]))
        np.testing.assert_allclose(out[b], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("heads", [2, 3])
def test_write_is_independent_of_head_order(heads):
    rng = np.random.default_rng(20 + heads)
    mem, w, erase, add = random_write_args(rng, 2, heads, 6, 4)
    base = jit_write(mem, w, erase, add)
    for perm in itertools.permutations(range(heads)):
        perm = np.array(perm)
        np.testing.assert_allclose(jit_write(mem, w[:, perm], erase[:, perm], add[:, perm]), base, rtol=1e-5,
                                   atol=1e-6)


def test_single_head_call_equals_heads_axis_of_one():
    rng = np.random.default_rng(3)
    mem, w, erase, add = random_write_args(rng, 3, 1, 5, 4)
    np.testing.assert_allclose(jit_write(mem, w[:, 0], erase[:, 0], add[:, 0]), jit_write(mem, w, erase, add),
                               rtol=1e-6, atol=1e-7)


def test_heads_on_disjoint_rows_equal_sequential_writes():
    # When the heads' weightings do not overlap, writing all at once equals writing one by one.
    rng = np.random.default_rng(4)
    mem, _, erase, add = random_write_args(rng, 1, 3, 6, 4)
    w = np.eye(6, dtype=np.float32)[[1, 3, 4]][None]  # [1, 3, 6]
    seq = mem
    for h in range(3):
        seq = jit_write(seq, w[:, h], erase[:, h], add[:, h])
    np.testing.assert_allclose(jit_write(mem, w, erase, add), seq, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("lead", [(), (2, 3)], ids=["no-batch", "two-batch-axes"])
def test_read_and_write_accept_any_leading_axes(lead):
    rng = np.random.default_rng(5)
    mem, w, erase, add = random_write_args(rng, int(np.prod(lead, dtype=int)), 2, 5, 3)
    reshape = lambda a: a.reshape(lead + a.shape[1:])  # noqa: E731
    out = np.asarray(jit_write(*map(reshape, (mem, w, erase, add))))
    np.testing.assert_allclose(out.reshape(mem.shape), jit_write(mem, w, erase, add), rtol=1e-6, atol=1e-6)
    reads = np.asarray(jit_read(reshape(mem), reshape(w)))
    np.testing.assert_allclose(reads.reshape((-1, 2, 3)), jit_read(mem, w), rtol=1e-6, atol=1e-6)
    first_head = (reshape(a)[..., 0, :] for a in (w, erase, add))
    out1 = np.asarray(jit_write(reshape(mem), *first_head))
    np.testing.assert_allclose(out1.reshape(mem.shape), jit_write(mem, w[:, :1], erase[:, :1], add[:, :1]),
                               rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------------------------------
# Gradients


@jax.jit
def _grads(mem, w, erase, add, coeffs):
    def lib(mem, w, erase, add):
        new = write(mem, w, erase, add)
        return jnp.sum(new * coeffs) + jnp.sum(read(new, w) ** 2)

    def ref(mem, w, erase, add):
        new = ref_write_jnp(mem, w, erase, add)
        return jnp.sum(new * coeffs) + jnp.sum(jnp.einsum("...hn,...nm->...hm", w, new) ** 2)

    argnums = (0, 1, 2, 3)
    return jax.grad(lib, argnums)(mem, w, erase, add), jax.grad(ref, argnums)(mem, w, erase, add)


@pytest.mark.parametrize("heads", [1, 3])
@pytest.mark.parametrize("case", ["random", "one-hot-full-erase", "zero-memory"])
def test_write_gradients_are_finite_and_equal_automatic_differentiation(heads, case):
    # write has a hand-written backward pass; compare it with autodiff of the plain formula.
    rng = np.random.default_rng(heads)
    mem, w, erase, add = random_write_args(rng, 2, heads, 6, 4)
    if case == "one-hot-full-erase":
        w = np.zeros_like(w)
        w[..., 1] = 1.0
        erase = np.ones_like(erase)
    elif case == "zero-memory":
        mem = np.zeros_like(mem)
    coeffs = rng.normal(size=mem.shape[1:]).astype(np.float32)
    got, expected = _grads(mem, w, erase, add, coeffs)
    for name, g, e in zip(["memory", "w", "erase", "add"], got, expected):
        assert np.all(np.isfinite(np.asarray(g))), name
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5, err_msg=name)


def test_check_grads_read_and_write(x64):
    rng = np.random.default_rng(7)
    mem, w, erase, add = map(jnp.asarray, random_write_args(rng, 2, 3, 5, 4, dtype=np.float64))
    assert mem.dtype == jnp.float64
    check_grads(jit_read, (mem, w), order=1, modes=("fwd", "rev"))
    check_grads(jit_read, (mem, w[:, 0]), order=1, modes=("fwd", "rev"))

    @jax.jit
    def writes(mem, w, erase, add):  # three heads, and one head without a heads axis
        return write(mem, w, erase, add), write(mem, w[:, 0], erase[:, 0], add[:, 0])

    # write has a custom (reverse-mode only) backward pass.
    check_grads(writes, (mem, w, erase, add), order=1, modes=("rev",))
