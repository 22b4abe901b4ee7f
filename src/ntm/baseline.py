"""The LSTM baseline (paper section 4): stacked LSTM layers, with the NTM's run interface.

Shapes: B batch, T time, I input width, O output width, C hidden size per layer.
"""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax

from ntm.controllers import Linear, LSTMStack, split_key
from ntm.model import _check_positive, _scan

__all__ = ["LSTMConfig", "LSTMBaseline"]


@dataclasses.dataclass(frozen=True)
class LSTMConfig:
    """Shape of the baseline: ``layers`` LSTM layers of ``hidden_size`` units (paper: 3 layers)."""

    input_size: int
    output_size: int
    hidden_size: int = 256
    layers: int = 3

    def __post_init__(self) -> None:
        _check_positive(
            "LSTMConfig",
            input_size=self.input_size,
            output_size=self.output_size,
            hidden_size=self.hidden_size,
            layers=self.layers,
        )


class LSTMBaseline(eqx.Module):
    """Stacked LSTM with skip connections (input to every layer, every layer to the output).

    ``step(state, x) -> (state, logits, None)`` and ``run(inputs, mask)`` as for :class:`ntm.NTM`;
    the trace is ``None`` since there is no memory to show.
    """

    config: LSTMConfig = eqx.field(static=True)
    stack: LSTMStack
    output_layer: Linear

    def __init__(self, config: LSTMConfig, *, key: jax.Array):
        k_stack, k_out = split_key(key, 2)
        self.config = config
        self.stack = LSTMStack(config.input_size, config.hidden_size, config.layers, k_stack)
        self.output_layer = Linear(self.stack.output_size, config.output_size, k_out)

    def trainable_filter(self) -> "LSTMBaseline":
        """Every array is trained."""
        return jax.tree_util.tree_map(eqx.is_inexact_array, self)

    def initial_state(self, batch_size: int) -> tuple:
        return self.stack.initial_state(batch_size)

    def step(self, state: tuple, x: jax.Array) -> tuple[tuple, jax.Array, None]:
        """One step: ``x [B, I]`` -> ``(state, logits [B, O], None)``."""
        state, h, _ = self._step_features(state, x)
        return state, self._readout(h), None

    def _step_features(self, state: tuple, x: jax.Array) -> tuple[tuple, jax.Array, None]:
        h, state = self.stack(x, state)
        return state, h, None

    def _readout(self, h: jax.Array) -> jax.Array:
        return self.output_layer(h)

    # The hooks ntm.model._scan uses; the baseline's state and trace need no conversion.
    def _to_carry(self, state: tuple) -> tuple:
        return state

    def _trace_out(self, trace: None) -> None:
        return trace

    def run(
        self, inputs: jax.Array, mask: jax.Array | None = None, *, return_trace: bool = False, state=None,
        remat: bool = True,
    ):
        """Run ``inputs [B, T, I]``; returns ``logits [B, T, O]`` (or ``(logits, None)`` with a trace).

        ``remat`` as in :meth:`ntm.model.NTM.run`: the backward pass keeps each step's matrix
        products and recomputes the gates.
        """
        return _scan(self, inputs, mask, return_trace, state, remat)
