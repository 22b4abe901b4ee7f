"""Associative recall (paper section 4.3): given one item of a list, produce the next one.

Legend: B batch, T time, I input channels, O output channels.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from .base import Batch, LengthSpec, Task, _check_batch_size, _check_positive, _draw_sizes, _flag
from .base import _draw_jit, _random_bits, _select, _time, register

__all__ = ["AssociativeRecallTask"]


@register
@dataclasses.dataclass(frozen=True)
class AssociativeRecallTask(Task):
    """K items of ``item_length`` random vectors; a query item; the target is the item after it.

    The main size ("length") is the number of items K (>= 2, so that a query exists). Channels:
    I = width + 2 (channel ``width`` is the item delimiter, ``width+1`` the query delimiter),
    O = width. With m = item_length, layout padded to T = (m+1) * Kmax + 2m + 2:

    * for each item k: one step with item delimiter = 1, then m steps of random bits;
    * at t0 = (m+1) * K: query delimiter; then m steps showing item q, q uniform in 0 .. K-2
      (any item but the last, which has no successor);
    * at t0 + m + 1: query delimiter again; then m steps of zero input whose targets are item
      q+1; mask = 1 on exactly those m steps.

    Worked example (width 1, m = 1, K = 2 items a, b, query q = 0)::

        inputs[bit]    0 a 0 b 0 a 0 0
        inputs[item]   1 0 1 0 0 0 0 0
        inputs[query]  0 0 0 0 1 0 1 0
        targets        0 0 0 0 0 0 0 b
        mask           0 0 0 0 0 0 0 1

    Attributes:
        width: bits per vector (the paper: 6).
        item_length: vectors per item (the paper: 3).
        train_lengths: inclusive training range of K (the paper: 2 .. 6).
    """

    name: ClassVar[str] = "associative_recall"
    size_label: ClassVar[str] = "items"
    min_length: ClassVar[int] = 2

    width: int = 6
    item_length: int = 3
    train_lengths: tuple[int, int] = (2, 6)

    def __post_init__(self) -> None:
        _check_positive(self.width, what=f"{self.name}: width")
        _check_positive(self.item_length, what=f"{self.name}: item_length")
        self._validate_train_lengths()

    @property
    def input_size(self) -> int:
        return self.width + 2

    @property
    def output_size(self) -> int:
        return self.width

    def num_steps(self, length: LengthSpec = None) -> int:
        """T = (item_length + 1) * Kmax + 2 * item_length + 2."""
        _, hi = self._length_range(length)
        return (self.item_length + 1) * hi + 2 * self.item_length + 2

    def sample(self, key: jax.Array, batch_size: int, length: LengthSpec = None) -> Batch:
        """Draw a batch: inputs ``[B, T, width+2]``, targets ``[B, T, width]``, mask ``[B, T]``."""
        return _draw_jit(self, key, _check_batch_size(batch_size), self._length_range(length))

    def eval_points(self) -> list[dict]:
        """2 to 20 items in steps of 2 (the paper tests up to 20 after training on 2-6)."""
        return [{"length": n} for n in range(2, 21, 2)]

    def _draw(self, key: jax.Array, batch_size: int, lo: int, hi: int) -> Batch:
        m = self.item_length
        num_steps = self.num_steps(hi)
        key_len, key_query, key_bits = jax.random.split(key, 3)
        K = _draw_sizes(key_len, batch_size, lo, hi)  # [B, 1]
        # randint accepts a per-sequence upper bound: q in [0, K-2].
        q = jax.random.randint(key_query, (batch_size,), 0, K[:, 0] - 1, dtype=jnp.int32)
        q = q[:, None]  # [B, 1]
        # Items laid end to end: vector r of item k is row k*m + r.
        items = _random_bits(key_bits, (batch_size, hi * m, self.width))  # [B, Kmax*m, W]
        t = _time(num_steps)  # [1, T]

        in_items = t < (m + 1) * K
        k, r = t // (m + 1), t % (m + 1)  # item index, position within its (delimiter + m) block
        t0 = (m + 1) * K  # first query delimiter
        query_shown = (t > t0) & (t <= t0 + m)
        answer = (t >= t0 + m + 2) & (t <= t0 + 2 * m + 1)

        item_bits = _select(items, k * m + r - 1, in_items & (r > 0))
        query_bits = _select(items, q * m + (t - t0 - 1), query_shown)
        inputs = jnp.concatenate(
            [
                item_bits + query_bits,  # disjoint supports, so the sum is a merge
                _flag(in_items & (r == 0)),
                _flag((t == t0) | (t == t0 + m + 1)),
            ],
            axis=-1,
        )
        targets = _select(items, (q + 1) * m + (t - t0 - m - 2), answer)
        return Batch(inputs, targets, answer.astype(jnp.float32))
