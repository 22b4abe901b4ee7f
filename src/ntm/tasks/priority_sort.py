"""Priority sort (paper section 4.5): output the highest-priority input vectors, in order.

Legend: B batch, T time, I input channels, O output channels.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from .base import Batch, LengthSpec, Task, _check_batch_size, _check_positive, _draw_sizes, _flag
from .base import _draw_jit, _random_bits, _select, _time, _uniform, register

__all__ = ["PrioritySortTask"]


@register
@dataclasses.dataclass(frozen=True)
class PrioritySortTask(Task):
    """L random vectors, each with a priority in [-1, 1]; the target is the top K sorted by priority.

    K = min(num_outputs, L). Channels: I = width + 2 (channel ``width`` is the priority, channel
    ``width+1`` the delimiter flag), O = width. Layout, padded to T = Lmax + 1 + min(num_outputs, Lmax):

    * steps ``0 .. L-1``: the vectors' bits and their priorities (uniform in [-1, 1]);
    * step ``L``: delimiter = 1;
    * steps ``L+1 .. L+K``: zero input; targets are the K highest-priority vectors, highest first;
      mask = 1 there only.

    Worked example (width 1, L = 3, num_outputs 2; vectors a, b, c with priorities .1, .9, -.5)::

        inputs[bit]    a  b  c   0 0 0
        inputs[prio]   .1 .9 -.5 0 0 0
        inputs[delim]  0  0  0   1 0 0
        targets        0  0  0   0 b a
        mask           0  0  0   0 1 1

    Attributes:
        width: bits per vector (not stated in the paper; 8 is the common choice).
        train_lengths: inclusive training range of L (the paper: 20 .. 20).
        num_outputs: how many vectors to emit at most (the paper: 16).
    """

    name: ClassVar[str] = "priority_sort"

    width: int = 8
    train_lengths: tuple[int, int] = (20, 20)
    num_outputs: int = 16

    def __post_init__(self) -> None:
        _check_positive(self.width, what=f"{self.name}: width")
        _check_positive(self.num_outputs, what=f"{self.name}: num_outputs")
        self._validate_train_lengths()

    @property
    def input_size(self) -> int:
        return self.width + 2

    @property
    def output_size(self) -> int:
        return self.width

    def num_steps(self, length: LengthSpec = None) -> int:
        """T = Lmax + 1 + min(num_outputs, Lmax)."""
        _, hi = self._length_range(length)
        return hi + 1 + min(self.num_outputs, hi)

    def sample(self, key: jax.Array, batch_size: int, length: LengthSpec = None) -> Batch:
        """Draw a batch: inputs ``[B, T, width+2]``, targets ``[B, T, width]``, mask ``[B, T]``."""
        return _draw_jit(self, key, _check_batch_size(batch_size), self._length_range(length))

    def eval_points(self) -> list[dict]:
        """The training size, and shorter and longer lists: 10, 16, 20, 30, 40 for the paper's 20
        (a list of L < num_outputs vectors asks for all L of them, sorted)."""
        hi = self.train_lengths[1]
        lengths = sorted({max(1, hi // 2), min(self.num_outputs, hi), hi, hi + hi // 2, 2 * hi})
        return [{"length": n} for n in lengths]

    def _draw(self, key: jax.Array, batch_size: int, lo: int, hi: int) -> Batch:
        num_steps = self.num_steps(hi)
        key_len, key_prio, key_bits = jax.random.split(key, 3)
        L = _draw_sizes(key_len, batch_size, lo, hi)  # [B, 1]
        priority = _uniform(key_prio, (batch_size, hi), -1.0, 1.0)  # [B, Lmax]
        bits = _random_bits(key_bits, (batch_size, hi, self.width))  # [B, Lmax, W]
        t = _time(num_steps)  # [1, T]

        # Sort whole vectors, not bits: argsort the (negated, for descending) priorities and gather
        # rows. Padding rows get +inf so they sort after every real vector.
        present = jnp.arange(hi)[None, :] < L  # [B, Lmax]
        order = jnp.argsort(jnp.where(present, -priority, jnp.inf), axis=1)  # [B, Lmax]
        ranked = jnp.take_along_axis(bits, order[..., None], axis=1)  # [B, Lmax, W]

        K = jnp.minimum(self.num_outputs, L)  # [B, 1]
        scored = (t > L) & (t <= L + K)
        shown = t < L
        inputs = jnp.concatenate(
            [_select(bits, t, shown), _select(priority[..., None], t, shown), _flag(t == L)],
            axis=-1,
        )
        targets = _select(ranked, t - L - 1, scored)
        return Batch(inputs, targets, scored.astype(jnp.float32))
