"""Dynamic n-grams (paper section 4.4): predict the next bit of a sequence from a random n-gram model.

Legend: B batch, T time, I input channels, O output channels, C = 2^(order-1) contexts.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from .base import Batch, LengthSpec, Task, _check_batch_size, _check_positive, _draw_sizes, _time
from .base import _draw_jit, _uniform, register

__all__ = ["DynamicNGramsTask"]


@register
@dataclasses.dataclass(frozen=True)
class DynamicNGramsTask(Task):
    """Bits from a fresh random ``order``-gram model per sequence; predict each next bit.

    The main size ("length") is the number of bits L. For each sequence, every one of the
    C = 2^(order-1) contexts (the previous order-1 bits) gets its own probability of a 1,
    p ~ Beta(1/2, 1/2). The first order-1 bits are Bernoulli(1/2); each later bit is
    Bernoulli(p[context]). The network sees the previous bit and predicts the current one, so the
    Bayes-optimal reference is ``ntm.metrics.ngram_optimal_cost(targets[..., 0], mask)`` (eq. 10).

    Channels: I = O = 1. Padded to T = Lmax:

    * ``inputs[t] = bit[t-1]`` for 1 <= t < L, ``inputs[0] = 0``;
    * ``targets[t] = bit[t]`` for t < L;
    * mask = 1 for t < L (every bit is scored, the first ones included); 0 in padding.

    Worked example (L = 4, bits 1 0 1 1)::

        inputs   0 1 0 1
        targets  1 0 1 1
        mask     1 1 1 1

    Attributes:
        order: n of the n-gram (the paper: 6, i.e. 5-bit contexts).
        train_lengths: inclusive training range of L (the paper: 200 .. 200).
    """

    name: ClassVar[str] = "dynamic_ngrams"

    order: int = 6
    train_lengths: tuple[int, int] = (200, 200)

    def __post_init__(self) -> None:
        _check_positive(self.order, what=f"{self.name}: order")
        # 2^(order-1) probabilities per sequence; beyond ~20 the table alone is megabytes per row.
        if self.order > 20:
            raise ValueError(f"{self.name}: order must be <= 20, got {self.order}")
        self._validate_train_lengths()

    @property
    def input_size(self) -> int:
        return 1

    @property
    def output_size(self) -> int:
        return 1

    def num_steps(self, length: LengthSpec = None) -> int:
        """T = Lmax."""
        _, hi = self._length_range(length)
        return hi

    def sample(self, key: jax.Array, batch_size: int, length: LengthSpec = None) -> Batch:
        """Draw a batch: inputs ``[B, T, 1]``, targets ``[B, T, 1]``, mask ``[B, T]``."""
        return _draw_jit(self, key, _check_batch_size(batch_size), self._length_range(length))

    def scores(self, logits: jax.Array, batch: Batch) -> dict[str, jax.Array]:
        """Adds ``optimal_cost_bits``: the Bayes-optimal predictor's cost on the same sequences (eq. 10)."""
        out = super().scores(logits, batch)
        out["optimal_cost_bits"] = self.reference_cost(batch)
        return out

    def reference_cost(self, batch: Batch) -> jax.Array:
        """``[B]`` the Bayes-optimal predictor's cost on these sequences (eq. 10)."""
        from ntm import metrics

        return metrics.ngram_optimal_cost(batch.targets[..., 0], batch.mask, order=self.order)

    def eval_points(self) -> list[dict]:
        """The training size (fixed)."""
        return [{"length": self.train_lengths[1]}]

    def _draw(self, key: jax.Array, batch_size: int, lo: int, hi: int) -> Batch:
        key_len, key_p, key_u = jax.random.split(key, 3)
        L = _draw_sizes(key_len, batch_size, lo, hi)  # [B, 1]
        bits = _ngram_bits(key_p, key_u, batch_size, hi, self.order)  # [B, T]
        t = _time(self.num_steps(hi))  # [1, T]

        valid = t < L
        targets = jnp.where(valid, bits, 0.0)
        # Shift right by one step: the input at t is the bit at t-1.
        previous = jnp.pad(bits, ((0, 0), (1, 0)))[:, :hi]
        inputs = jnp.where(valid, previous, 0.0)
        return Batch(inputs[..., None], targets[..., None], valid.astype(jnp.float32))


def _ngram_bits(
    key_p: jax.Array, key_u: jax.Array, batch_size: int, num_steps: int, order: int
) -> jax.Array:
    """``[B, T]`` float32 bits from per-sequence random ``order``-gram models.

    The context is kept as an integer whose bit j is the bit j+1 steps back; each step shifts the
    new bit in and drops the oldest. A scan over time is unavoidable: each bit's distribution
    depends on the bits just drawn.
    """
    num_contexts = 2 ** (order - 1)
    probs = _arcsine(key_p, (batch_size, num_contexts))  # [B, C]
    uniforms = _uniform(key_u, (num_steps, batch_size))  # [T, B], time-major for scan
    rows = jnp.arange(batch_size)

    def step(context: jax.Array, xs: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        t, u = xs
        # Before order-1 bits exist there is no full context: the paper draws those uniformly.
        p = jnp.where(t < order - 1, 0.5, probs[rows, context])
        bit = (u < p).astype(jnp.int32)
        context = ((context << 1) | bit) & (num_contexts - 1)
        return context, bit

    context0 = jnp.zeros((batch_size,), jnp.int32)
    _, bits = jax.lax.scan(step, context0, (jnp.arange(num_steps), uniforms))
    return bits.T.astype(jnp.float32)


def _arcsine(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Beta(1/2, 1/2) samples by inverting its CDF, ``F(x) = (2/pi) arcsin(sqrt(x))``.

    Exactly the distribution ``jax.random.beta(key, 0.5, 0.5, shape)`` draws, from one uniform
    per sample instead of two gamma rejection samplers: several times cheaper to compile, which
    matters because every new batch shape recompiles the sampler.
    """
    return jnp.sin(0.5 * jnp.pi * _uniform(key, shape)) ** 2
