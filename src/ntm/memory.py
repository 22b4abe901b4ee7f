"""Reading from and writing to the memory matrix (paper sections 3.1 and 3.2).

Shapes: B batch (any leading axes), H heads, N rows, M row width.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["read", "write"]


def read(memory: jax.Array, w: jax.Array) -> jax.Array:
    """Read vector (eq. 2): ``r = sum_i w(i) memory(i)``.

    Args:
        memory: ``[B, N, M]``.
        w: ``[B, N]`` for one head, or ``[B, H, N]`` for H heads reading the same memory.

    Returns:
        ``[B, M]``, or ``[B, H, M]``.
    """
    if w.ndim == memory.ndim:  # heads axis present: [B, H, N] @ [B, N, M]
        return jnp.matmul(w, memory)
    return jnp.matmul(w[..., None, :], memory)[..., 0, :]


def write(memory: jax.Array, w: jax.Array, erase: jax.Array, add: jax.Array) -> jax.Array:
    """Erase then add (eqs. 3 and 4).

    ``memory~(i) = memory(i) * (1 - w(i) erase)`` then ``memory'(i) = memory~(i) + w(i) add``.
    With several heads (a heads axis before N) the erases multiply and the adds sum, so the order
    of the heads does not matter.

    Args:
        memory: ``[B, N, M]``.
        w: ``[B, N]`` or ``[B, H, N]`` write weightings.
        erase: ``[B, M]`` or ``[B, H, M]``, each component in [0, 1].
        add: ``[B, M]`` or ``[B, H, M]``.

    Returns:
        ``[B, N, M]`` the new memory.
    """
    if w.ndim == memory.ndim - 1:  # one head: give it a heads axis of size 1
        return _write(memory, w[..., None, :], erase[..., None, :], add[..., None, :])
    return _write(memory, w, erase, add)


def _erase_factors(w: jax.Array, erase: jax.Array) -> list[jax.Array]:
    """``1 - w_h(i) e_h(j)`` for every head h: a list of H arrays ``[B, N, M]``."""
    return [1.0 - w[..., h, :, None] * erase[..., h, None, :] for h in range(w.shape[-2])]


def _product(arrays: list[jax.Array]) -> jax.Array:
    out = arrays[0]
    for a in arrays[1:]:
        out = out * a
    return out


@jax.custom_vjp
def _write(memory: jax.Array, w: jax.Array, erase: jax.Array, add: jax.Array) -> jax.Array:
    keep = _product(_erase_factors(w, erase))
    return memory * keep + jnp.matmul(jnp.swapaxes(w, -1, -2), add)  # [B, N, H] @ [B, H, M]


def _write_fwd(memory, w, erase, add):
    return _write(memory, w, erase, add), (memory, w, erase, add)


def _write_bwd(residuals, g):
    # Hand-written gradients of eqs. 3-4.  Automatic differentiation turns the outer products
    # w e^T and w a^T into reductions over the row width, which XLA's CPU backend runs about 4x
    # slower than the batched matmuls used here; the residuals are only the step's inputs.
    memory, w, erase, add = residuals
    factors = _erase_factors(w, erase)
    d_memory = g * _product(factors)
    g_mem = g * memory
    d_w, d_erase = [], []
    for h in range(w.shape[-2]):
        # dL/dkeep_h = g * memory * prod_{j != h} keep_j
        g_keep = _product([g_mem] + [f for j, f in enumerate(factors) if j != h])
        d_w.append(-jnp.matmul(g_keep, erase[..., h, :, None])[..., 0])  # [B, N]
        d_erase.append(-jnp.matmul(w[..., h, None, :], g_keep)[..., 0, :])  # [B, M]
    d_w = jnp.stack(d_w, axis=-2) + jnp.matmul(add, jnp.swapaxes(g, -1, -2))  # [B, H, N]
    d_add = jnp.matmul(w, g)  # [B, H, M]
    return d_memory, d_w, jnp.stack(d_erase, axis=-2), d_add


_write.defvjp(_write_fwd, _write_bwd)
