"""The memory operations of one NTM step on the memory stored column by column: ``[B, M, N]``.

:mod:`ntm.memory` and :mod:`ntm.addressing` state the paper's equations on the memory as the paper
draws it, one row per location (``[B, N, M]``).  Inside its ``lax.scan`` the model keeps the
transpose, ``mt[b, j, i] = memory[b, i, j]``, so that the long axis (N locations, 128 in the paper)
is the contiguous one.  XLA's CPU backend vectorises along the contiguous axis: with N there, the
erase-and-add write runs several times faster than with the 20-wide M there (docs/performance.md),
and so do the other passes over the whole memory.  The functions below compute exactly the quantities of
their row-layout counterparts (tests compare them); the gradients are written by hand, with every
sum over M as an elementwise product and a sum, and every sum over N (the contiguous axis) as a
matrix product when its operands are arrays the step has already made, but as a product and a sum,
which XLA fuses into one pass, when an operand would otherwise have to be made for it: the memory
saved for the backward pass (a matrix product copies it out of the stack of saved memories first)
or an elementwise product such as ``g * memory``.

Shapes: B batch, H heads, M row width, N locations.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ntm.addressing import _NORM_EPS, interpolate, sharpen
from ntm.memory import _product

__all__ = ["cosine_similarity", "shift", "address", "write", "read"]


# ------------------------------------------------------------------------------------------------
# Content addressing (eq. 6)


@jax.custom_vjp
def cosine_similarity(mt: jax.Array, key: jax.Array) -> jax.Array:
    """Cosine similarity of each head's key with every location: ``mt [B, M, N]``, ``key [B, H, M]``
    -> ``[B, H, N]``.  Equals :func:`ntm.addressing.cosine_similarity` on the untransposed memory."""
    return _cosine_fwd(mt, key)[0]


def _cosine_fwd(mt, key):
    norm_mem = jnp.sqrt(jnp.sum(mt * mt, axis=-2) + _NORM_EPS)  # [B, N]
    norm_key = jnp.sqrt(jnp.sum(key * key, axis=-1) + _NORM_EPS)  # [B, H]
    dot = jnp.sum(mt[:, None] * key[..., None], axis=-2)  # [B, H, N]
    sim = dot / (norm_mem[:, None, :] * norm_key[..., None])
    return sim, (mt, key, norm_mem, norm_key, sim)


def _cosine_bwd(residuals, g):
    # As in ntm.addressing: d sim_i / d M_i = k / (|M_i||k|) - sim_i M_i / |M_i|^2, and for k alike.
    mt, key, norm_mem, norm_key, sim = residuals
    c_key = g / (norm_mem[:, None, :] * norm_key[..., None])  # [B, H, N]
    c_mem = jnp.sum(g * sim, axis=1) / (norm_mem * norm_mem)  # [B, N], summed over heads
    d_mt = jnp.sum(key[..., None] * c_key[:, :, None, :], axis=1) - c_mem[:, None, :] * mt
    # A sum over N, but not a matrix product: the write head's memory is read from the stack the
    # backward pass saved, and a matrix product would copy it out first.
    d_key = jnp.sum(c_key[:, :, None, :] * mt[:, None], axis=-1)
    d_key = d_key - (jnp.sum(g * sim, axis=-1) / (norm_key * norm_key))[..., None] * key
    return d_mt, d_key


cosine_similarity.defvjp(_cosine_fwd, _cosine_bwd)


# ------------------------------------------------------------------------------------------------
# Shift (eq. 8)


@jax.custom_vjp
def shift(w: jax.Array, s: jax.Array) -> jax.Array:
    """:func:`ntm.addressing.shift` (``w [..., N]``, ``s [..., S]``), with the same values and a
    hand-written gradient, for reverse mode only.

    Both are a sum of S shifted copies of ``w``.  Here the copies are windows of one array, ``w``
    with S//2 entries wrapped around at each end: one concatenation, whose windows XLA reads inside
    the fused sum, and the gradient wraps the output's gradient once in the same way.  Copies made
    with ``jnp.roll`` are two slices and a concatenation each, forward and backward: 10 more XLA
    operations per head and step.
    """
    return _shift_fwd(w, s)[0]


def _wrap(w, half):
    """``[..., N + 2 * half]``: entry ``j`` is ``w[(j - half) mod N]``."""
    n = w.shape[-1]
    return jnp.concatenate([w[..., n - half :], w, w[..., :half]], axis=-1)


def _shift_fwd(w, s):
    # roll(w, k - half)[i] = w[i - k + half] = wrapped[i + S - 1 - k]
    num_shifts, n = s.shape[-1], w.shape[-1]
    wrapped = _wrap(w, num_shifts // 2)
    out = s[..., 0:1] * wrapped[..., num_shifts - 1 : num_shifts - 1 + n]
    for k in range(1, num_shifts):
        out = out + s[..., k : k + 1] * wrapped[..., num_shifts - 1 - k : num_shifts - 1 - k + n]
    return out, (wrapped, s)


def _shift_bwd(residuals, g):
    # d w[j] = sum_k s_k g[j + k - half] = sum_k s_k wrapped_g[j + k];  d s_k = sum_i g[i] wrapped[i + S - 1 - k]
    wrapped, s = residuals
    num_shifts, n = s.shape[-1], g.shape[-1]
    wrapped_g = _wrap(g, num_shifts // 2)
    d_w = s[..., 0:1] * wrapped_g[..., 0:n]
    for k in range(1, num_shifts):
        d_w = d_w + s[..., k : k + 1] * wrapped_g[..., k : k + n]
    d_s = [jnp.sum(g * wrapped[..., num_shifts - 1 - k : num_shifts - 1 - k + n], axis=-1) for k in range(num_shifts)]
    return d_w, jnp.stack(d_s, axis=-1)


shift.defvjp(_shift_fwd, _shift_bwd)


# ------------------------------------------------------------------------------------------------
# The whole addressing


def address(mt, w_prev, key, beta, gate, s, gamma):
    """:func:`ntm.addressing.address` for H heads on the transposed memory ``mt [B, M, N]``:
    ``w_prev [B, H, N]``, ``key [B, H, M]``, ``beta, gate, gamma [B, H]``, ``s [B, H, S]`` -> ``[B, H, N]``."""
    w = jax.nn.softmax(beta[..., None] * cosine_similarity(mt, key), axis=-1)
    w = interpolate(w, w_prev, gate)
    w = shift(w, s)
    return sharpen(w, gamma)


# ------------------------------------------------------------------------------------------------
# Writing (eqs. 3-4) and reading (eq. 2)


def _erase_factors(w, erase):
    """``1 - e_h(j) w_h(i)`` for every head h: a list of H arrays ``[B, M, N]``."""
    return [1.0 - erase[:, h, :, None] * w[:, h, None, :] for h in range(w.shape[1])]


@jax.custom_vjp
def write(mt: jax.Array, w: jax.Array, erase: jax.Array, add: jax.Array) -> jax.Array:
    """Erase then add, every head at once: ``mt [B, M, N]``, ``w [B, H, N]``, ``erase, add [B, H, M]``
    -> the new ``[B, M, N]``.  The transpose of :func:`ntm.memory.write`'s result."""
    out = mt * _product(_erase_factors(w, erase))
    for h in range(w.shape[1]):
        out = out + add[:, h, :, None] * w[:, h, None, :]
    return out


def _write_fwd(mt, w, erase, add):
    return write(mt, w, erase, add), (mt, w, erase, add)


def _write_bwd(residuals, g):
    mt, w, erase, add = residuals
    factors = _erase_factors(w, erase)
    g_mem = g * mt
    d_w, d_erase, d_add = [], [], []
    for h in range(w.shape[1]):
        # dL/dkeep_h = g * mt * prod_{j != h} keep_j.  Written into both sums rather than made
        # once: XLA fuses it into each, which saves writing and reading a whole memory, and for
        # the sum over N a matrix product would need it made.
        g_keep = _product([g_mem] + [f for j, f in enumerate(factors) if j != h])
        d_w.append(jnp.sum(g * add[:, h, :, None] - g_keep * erase[:, h, :, None], axis=1))  # [B, N]
        d_erase.append(-jnp.sum(g_keep * w[:, h, None, :], axis=-1))  # [B, M]
        # g is made anyway: here the matrix product is the faster form (docs/performance.md).
        d_add.append(jnp.einsum("bmn,bn->bm", g, w[:, h]))
    return g * _product(factors), jnp.stack(d_w, axis=1), jnp.stack(d_erase, axis=1), jnp.stack(d_add, axis=1)


write.defvjp(_write_fwd, _write_bwd)


@jax.custom_vjp
def read(mt: jax.Array, w: jax.Array) -> jax.Array:
    """Read vectors ``[B, H, M]`` of H heads with weightings ``w [B, H, N]`` from ``mt [B, M, N]``."""
    return jnp.einsum("bmn,bhn->bhm", mt, w)


def _read_fwd(mt, w):
    return read(mt, w), (mt, w)


def _read_bwd(residuals, g):
    mt, w = residuals
    d_mt = g[:, 0, :, None] * w[:, 0, None, :]
    for h in range(1, w.shape[1]):
        d_mt = d_mt + g[:, h, :, None] * w[:, h, None, :]
    d_w = jnp.sum(g[..., None] * mt[:, None], axis=-2)  # a sum over M: [B, H, N]
    return d_mt, d_w


read.defvjp(_read_fwd, _read_bwd)
