"""Head parameters: how one controller output vector becomes the parameters of every head.

All heads of one kind (read or write) are computed together: one linear layer emits the
parameters of every head, which are reshaped to ``[B, H, P]`` and squashed into range, so the
addressing of all heads runs as one batched computation.

Shapes: B batch, H heads, M row width, S shifts.
Activations (paper section 3.3 implies the ranges): key unconstrained (cosine similarity is
scale-free), beta softplus (>= 0), gate sigmoid (0..1), shift softmax, gamma 1 + softplus
(>= 1), erase sigmoid (0..1), add tanh (bounded, so memory stays in a fixed range and
generalises to longer sequences; the paper leaves it unconstrained).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["HeadParams", "head_param_size", "split_head_params"]


class HeadParams(NamedTuple):
    """Squashed parameters of H heads of one kind. erase and add are None for read heads."""

    key: jax.Array  # [B, H, M]
    beta: jax.Array  # [B, H]
    gate: jax.Array  # [B, H]
    shift: jax.Array  # [B, H, S]
    gamma: jax.Array  # [B, H]
    erase: jax.Array | None  # [B, H, M]
    add: jax.Array | None  # [B, H, M]


@jax.custom_jvp
def _softplus(x: jax.Array) -> jax.Array:
    """``jax.nn.softplus``, differentiated as ``sigmoid(x)``: the same derivative, without the
    checks for infinite and NaN arguments that ``jax.nn.softplus``'s derivative makes (as
    ``logaddexp(x, 0)``), which cost XLA's CPU backend a dozen operations per head parameter in
    the backward pass."""
    return jax.nn.softplus(x)


@_softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return _softplus(x), t * jax.nn.sigmoid(x)


def head_param_size(width: int, num_shifts: int, is_write: bool) -> int:
    """Number of raw controller outputs one head needs: key, beta, gate, shift, gamma (+ erase, add)."""
    return width + 3 + num_shifts + (2 * width if is_write else 0)


def split_head_params(raw: jax.Array, width: int, num_shifts: int, is_write: bool) -> HeadParams:
    """Split raw outputs ``[B, H, P]`` (P = head_param_size) into squashed :class:`HeadParams`."""
    m, s = width, num_shifts
    key = raw[..., :m]
    beta = _softplus(raw[..., m])
    gate = jax.nn.sigmoid(raw[..., m + 1])
    shift = jax.nn.softmax(raw[..., m + 2 : m + 2 + s], axis=-1)
    gamma = 1.0 + _softplus(raw[..., m + 2 + s])
    if not is_write:
        return HeadParams(key, beta, gate, shift, gamma, None, None)
    o = m + 3 + s
    erase = jax.nn.sigmoid(raw[..., o : o + m])
    add = jnp.tanh(raw[..., o + m : o + 2 * m])
    return HeadParams(key, beta, gate, shift, gamma, erase, add)
