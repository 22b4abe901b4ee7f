"""Copy (paper section 4.1): store a sequence of random bit vectors, then reproduce it.

Legend: B batch, T time, I input channels, O output channels.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from .base import Batch, LengthSpec, Task, _check_batch_size, _check_positive, _draw_sizes, _flag
from .base import _draw_jit, _random_bits, _select, _time, register

__all__ = ["CopyTask"]


@register
@dataclasses.dataclass(frozen=True)
class CopyTask(Task):
    """A sequence of L random ``width``-bit vectors, a delimiter, then the sequence is the target.

    Channels: I = width + 1 (the last input channel is the delimiter flag), O = width.
    Layout for one sequence of length L (padded to T = 2 * Lmax + 1):

    * steps ``0 .. L-1``: the L random vectors on channels ``0 .. width-1``;
    * step ``L``: delimiter flag = 1, bits 0;
    * steps ``L+1 .. 2L``: zero input; targets are the L vectors in order; mask = 1 here only.

    Worked example (width 1, L = 2, bits a, b; columns are steps)::

        inputs[bit]    a b 0 0 0
        inputs[delim]  0 0 1 0 0
        targets        0 0 0 a b
        mask           0 0 0 1 1

    Attributes:
        width: bits per vector (the paper: 8).
        train_lengths: inclusive training range of L (the paper: 1 .. 20).
    """

    name: ClassVar[str] = "copy"

    width: int = 8
    train_lengths: tuple[int, int] = (1, 20)

    def __post_init__(self) -> None:
        _check_positive(self.width, what=f"{self.name}: width")
        self._validate_train_lengths()

    @property
    def input_size(self) -> int:
        return self.width + 1

    @property
    def output_size(self) -> int:
        return self.width

    def num_steps(self, length: LengthSpec = None) -> int:
        """T = 2 * Lmax + 1, where Lmax is ``length`` or the top of its range."""
        _, hi = self._length_range(length)
        return 2 * hi + 1

    def sample(self, key: jax.Array, batch_size: int, length: LengthSpec = None) -> Batch:
        """Draw a batch: inputs ``[B, T, width+1]``, targets ``[B, T, width]``, mask ``[B, T]``."""
        return _draw_jit(self, key, _check_batch_size(batch_size), self._length_range(length))

    def eval_points(self) -> list[dict]:
        """The paper's test lengths (section 4.1): 10, 20, 30, 50 and 120."""
        return [{"length": n} for n in (10, 20, 30, 50, 120)]

    def _draw(self, key: jax.Array, batch_size: int, lo: int, hi: int) -> Batch:
        num_steps = self.num_steps(hi)
        key_len, key_bits = jax.random.split(key)
        L = _draw_sizes(key_len, batch_size, lo, hi)  # [B, 1]
        bits = _random_bits(key_bits, (batch_size, hi, self.width))  # [B, Lmax, W]
        t = _time(num_steps)  # [1, T]

        scored = (t > L) & (t <= 2 * L)
        inputs = jnp.concatenate([_select(bits, t, t < L), _flag(t == L)], axis=-1)
        targets = _select(bits, t - L - 1, scored)
        return Batch(inputs, targets, scored.astype(jnp.float32))
