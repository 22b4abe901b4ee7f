"""Addressing: the four stages that turn head parameters into a weighting (paper section 3.3).

Every function is pure, batched over any number of leading axes, jit-able and differentiable.
Shapes use this legend:

    B  batch (or any stack of leading axes, e.g. [B, H] for heads)
    N  memory rows (locations)
    M  row width
    S  number of allowed shifts (odd; shift j - S//2 for index j)

All functions are NaN-free in values and gradients for zero memory rows, a zero key, key
strengths up to 1e4, sharpening exponents up to 100 and weightings with exact zeros.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["cosine_similarity", "content_weights", "interpolate", "shift", "sharpen", "address"]

# Added under the square root of a squared norm.  Keeps the norm's gradient finite at a zero
# vector (d sqrt(x)/dx is infinite at 0) and makes the similarity of a zero vector 0, while being
# far below the squared norm of any vector that matters.
_NORM_EPS = 1e-12


def _norm(x: jax.Array) -> jax.Array:
    return jnp.sqrt(jnp.sum(x * x, axis=-1) + _NORM_EPS)


@jax.custom_vjp
def cosine_similarity(memory: jax.Array, key: jax.Array) -> jax.Array:
    """Cosine similarity K[k, M(i)] of a key with every memory row (eq. 6).

    Args:
        memory: ``[..., N, M]``.
        key: ``[..., M]``; leading axes broadcast against ``memory``'s.

    Returns:
        ``[..., N]``, in [-1, 1]; 0 where the row or the key is the zero vector.
    """
    return _cosine_fwd(memory, key)[0]


def _cosine_fwd(memory, key):
    norm_mem, norm_key = _norm(memory), _norm(key)
    dot = jnp.matmul(memory, key[..., :, None])[..., 0]  # [..., N]
    sim = dot / (norm_mem * norm_key[..., None])
    return sim, (memory, key, norm_mem, norm_key, sim)


def _cosine_bwd(residuals, g):
    # d sim_i / d M_i = k / (|M_i||k|) - sim_i M_i / |M_i|^2, and symmetrically for k; the sums
    # over rows are written as matmuls, which XLA's CPU backend runs faster than reductions.
    memory, key, norm_mem, norm_key, sim = residuals
    c_key = g / (norm_mem * norm_key[..., None])  # [..., N]
    c_mem = g * sim / (norm_mem * norm_mem)  # [..., N]
    d_memory = c_key[..., :, None] * key[..., None, :] - c_mem[..., :, None] * memory
    d_key = jnp.matmul(c_key[..., None, :], memory)[..., 0, :]
    d_key = d_key - (jnp.sum(g * sim, axis=-1) / (norm_key * norm_key))[..., None] * key
    return _sum_to_shape(d_memory, memory.shape), _sum_to_shape(d_key, key.shape)


def _sum_to_shape(x: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Undo broadcasting: sum ``x`` over the axes along which an input of ``shape`` was broadcast."""
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, size in enumerate(shape) if size == 1 and x.shape[i + lead] != 1
    )
    return jnp.sum(x, axis=axes).reshape(shape) if axes else x


cosine_similarity.defvjp(_cosine_fwd, _cosine_bwd)


def content_weights(memory: jax.Array, key: jax.Array, beta: jax.Array) -> jax.Array:
    """Content-based weighting (eq. 5): ``softmax_i(beta * K[key, memory(i)])``.

    Args:
        memory: ``[..., N, M]`` memory matrix.
        key: ``[..., M]`` key vector.
        beta: ``[...]`` key strength, ``>= 0``.

    Returns:
        ``[..., N]`` weighting over rows (non-negative, sums to 1).

    Example: a key equal to row 2 with a large ``beta`` puts nearly all weight on row 2.
    """
    similarity = cosine_similarity(memory, key)
    return jax.nn.softmax(beta[..., None] * similarity, axis=-1)


def interpolate(w_content: jax.Array, w_prev: jax.Array, gate: jax.Array) -> jax.Array:
    """Interpolation gate (eq. 7): ``gate * w_content + (1 - gate) * w_prev``.

    Args:
        w_content: ``[..., N]`` content weighting of this step.
        w_prev: ``[..., N]`` the head's weighting of the previous step.
        gate: ``[...]`` in [0, 1]; 1 keeps the content weighting, 0 keeps the previous weighting.

    Returns:
        ``[..., N]``.
    """
    g = gate[..., None]
    return g * w_content + (1.0 - g) * w_prev


def shift(w: jax.Array, s: jax.Array) -> jax.Array:
    """Circular convolution with a shift distribution (eq. 8).

    ``out(i) = sum_j w(j) s(i - j)`` with indices modulo N, where ``s[..., k]`` is the weight of
    the shift ``k - S//2``.  A one-hot ``s`` on shift +1 moves the focus from row i to row i+1.

    Args:
        w: ``[..., N]`` weighting.
        s: ``[..., S]`` shift distribution, S odd and at most N.

    Returns:
        ``[..., N]``.
    """
    num_shifts = s.shape[-1]
    if num_shifts % 2 != 1:
        raise ValueError(f"shift: s must have an odd number of shifts, got S={num_shifts}")
    if num_shifts > w.shape[-1]:
        raise ValueError(f"shift: S={num_shifts} shifts exceed the N={w.shape[-1]} rows")
    half = num_shifts // 2
    # S is small (3 in the paper): a sum of S rolls is cheaper than a circulant matmul and is
    # fused by XLA into a single pass over w.  jnp.roll(w, k)[i] == w[i - k].
    out = s[..., 0:1] * jnp.roll(w, -half, axis=-1)
    for k in range(1, num_shifts):
        out = out + s[..., k : k + 1] * jnp.roll(w, k - half, axis=-1)
    return out


def sharpen(w: jax.Array, gamma: jax.Array) -> jax.Array:
    """Sharpening (eq. 9): ``w(i)^gamma / sum_j w(j)^gamma``, with ``gamma >= 1``.

    Computed as ``softmax(gamma * log w)``, which equals the formula but neither underflows
    (``0.01 ** 100`` is 0 in float32) nor produces NaN gradients at exact zeros.

    Args:
        w: ``[..., N]`` non-negative weighting.
        gamma: ``[...]`` sharpening exponent.

    Returns:
        ``[..., N]``, sums to 1.
    """
    tiny = jnp.finfo(w.dtype).tiny
    # Rows with w == 0 take log(tiny), about -87 in float32: after multiplying by gamma >= 1
    # their weight underflows to exactly 0, as w^gamma would.  maximum() routes the gradient
    # away from log at 0.
    log_w = jnp.log(jnp.maximum(w, tiny))
    return jax.nn.softmax(gamma[..., None] * log_w, axis=-1)


def address(
    memory: jax.Array,
    w_prev: jax.Array,
    key: jax.Array,
    beta: jax.Array,
    gate: jax.Array,
    s: jax.Array,
    gamma: jax.Array,
) -> jax.Array:
    """The whole addressing pipeline of section 3.3: content, interpolation, shift, sharpening.

    Args:
        memory: ``[..., N, M]`` (leading axes broadcast, so ``memory[:, None]`` serves ``[B, H]`` heads).
        w_prev: ``[..., N]``; key: ``[..., M]``; beta, gate, gamma: ``[...]``; s: ``[..., S]``.

    Returns:
        ``[..., N]`` the head's new weighting.
    """
    w = content_weights(memory, key, beta)
    w = interpolate(w, w_prev, gate)
    w = shift(w, s)
    return sharpen(w, gamma)
