"""Controllers (paper section 3.4): a feedforward network or a stack of LSTM layers.

Both act on a whole batch at once and keep their state explicit: ``initial_state(batch_size)``
gives the learned start state and ``__call__(x, state) -> (h, state)`` advances one step.

Shapes: B batch, D controller input width, C controller size.
"""

from __future__ import annotations

import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Linear", "FeedForwardController", "LSTMStack", "init_uniform", "init_normal", "split_key"]


# Initial parameters are drawn with NumPy on the host, from a generator seeded by the JAX key:
# drawing them with jax.random op by op compiles one small XLA program per array shape, which cost
# 3-7 s before an NTM's first update.  The same key gives the same parameters.  A model built
# under a JAX transformation (jit, vmap, eval_shape: the key is a tracer) draws with jax.random
# instead, so its values differ from an eager build's, though they come from the same distribution.
def _host_rng(key: jax.Array) -> np.random.Generator:
    data = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    return np.random.default_rng(np.asarray(data, dtype=np.uint32).ravel())


def init_uniform(key: jax.Array, shape: tuple[int, ...], bound: float) -> jax.Array:
    """Uniform in ``[-bound, bound)``, float32 (see the note above on how it is drawn)."""
    if isinstance(key, jax.core.Tracer):
        return jax.random.uniform(key, shape, minval=-bound, maxval=bound)
    return jnp.asarray(_host_rng(key).uniform(-bound, bound, shape), dtype=jnp.float32)


def init_normal(key: jax.Array, shape: tuple[int, ...], scale: float) -> jax.Array:
    """Normal with mean 0 and standard deviation ``scale``, float32."""
    if isinstance(key, jax.core.Tracer):
        return scale * jax.random.normal(key, shape)
    return jnp.asarray(scale * _host_rng(key).standard_normal(shape), dtype=jnp.float32)


def split_key(key: jax.Array, num: int) -> list[jax.Array]:
    """``num`` independent keys from ``key`` (``fold_in`` with 0 .. num-1: one compiled program for
    every ``num``, where ``jax.random.split`` compiles one per ``num``)."""
    return [jax.random.fold_in(key, i) for i in range(num)]


class Linear(eqx.Module):
    """``y = x @ weight + bias`` on batched inputs ``[..., in] -> [..., out]``.

    Initialised uniformly in ``+-1/sqrt(in)``, the usual default for recurrent nets.
    """

    weight: jax.Array  # [in, out]
    bias: jax.Array  # [out]

    def __init__(self, in_size: int, out_size: int, key: jax.Array, bias_init: float | np.ndarray = 0.0):
        bound = 1.0 / math.sqrt(max(in_size, 1))
        self.weight = init_uniform(key, (in_size, out_size), bound)
        self.bias = jnp.asarray(np.zeros(out_size) + np.asarray(bias_init), dtype=jnp.float32)

    def __call__(self, x: jax.Array) -> jax.Array:
        return x @ self.weight + self.bias


class FeedForwardController(eqx.Module):
    """``layers`` tanh layers of ``size`` units.  Stateless: all memory goes through the NTM's matrix."""

    layers: tuple[Linear, ...]

    def __init__(self, input_size: int, size: int, num_layers: int, key: jax.Array):
        keys = split_key(key, num_layers)
        sizes = [input_size] + [size] * num_layers
        self.layers = tuple(Linear(sizes[i], sizes[i + 1], keys[i]) for i in range(num_layers))

    @property
    def output_size(self) -> int:
        return self.layers[-1].weight.shape[1]

    def initial_state(self, batch_size: int) -> tuple:
        return ()

    def __call__(self, x: jax.Array, state: tuple, apply=None) -> tuple[jax.Array, tuple]:
        """``(h, state)``.  ``apply(i, x)``, if given, stands in for ``self.layers[i](x)``."""
        h = x
        for i, layer in enumerate(self.layers):
            h = jnp.tanh(layer(h) if apply is None else apply(i, h))
        return h, state


class LSTMStack(eqx.Module):
    """Stacked LSTM layers with skip connections, as in Graves (2013).

    Layer l sees the external input and the output of layer l-1; the stack's output is the
    concatenation of every layer's hidden state, so its width is ``num_layers * size``.
    The initial hidden and cell states are learned (paper section 4.6).

    State: a tuple with one ``(h [B, C], c [B, C])`` pair per layer.
    """

    cells: tuple[Linear, ...]  # each maps [x, h_below, h_prev] -> 4 gates
    h0: jax.Array  # [layers, C]
    c0: jax.Array  # [layers, C]

    def __init__(self, input_size: int, size: int, num_layers: int, key: jax.Array):
        keys = split_key(key, num_layers)
        # Forget-gate bias 1: lets gradients pass through the cell early in training.
        gate_bias = np.zeros(4 * size)
        gate_bias[size : 2 * size] = 1.0
        cells = []
        for i in range(num_layers):
            in_size = input_size + (size if i > 0 else 0) + size
            cells.append(Linear(in_size, 4 * size, keys[i], bias_init=gate_bias))
        self.cells = tuple(cells)
        self.h0 = jnp.asarray(np.zeros((num_layers, size)), dtype=jnp.float32)
        self.c0 = jnp.asarray(np.zeros((num_layers, size)), dtype=jnp.float32)

    @property
    def output_size(self) -> int:
        return self.h0.shape[0] * self.h0.shape[1]

    def initial_state(self, batch_size: int) -> tuple:
        return tuple(
            (jnp.broadcast_to(self.h0[i], (batch_size, self.h0.shape[1])),
             jnp.broadcast_to(self.c0[i], (batch_size, self.c0.shape[1])))
            for i in range(len(self.cells))
        )

    def __call__(self, x: jax.Array, state: tuple, apply=None) -> tuple[jax.Array, tuple]:
        """``(h, state)``.  ``apply(l, z)``, if given, stands in for ``self.cells[l](z)``."""
        new_state: list[Any] = []
        outputs = []
        below = None
        for layer, (cell, (h, c)) in enumerate(zip(self.cells, state)):
            parts = [x, h] if below is None else [x, below, h]
            z = jnp.concatenate(parts, axis=-1)
            i, f, g, o = jnp.split(cell(z) if apply is None else apply(layer, z), 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            new_state.append((h, c))
            outputs.append(h)
            below = h
        return jnp.concatenate(outputs, axis=-1), tuple(new_state)
