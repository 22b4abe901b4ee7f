"""Repeat copy (paper section 4.2): copy a sequence a given number of times, then say "done".

Legend: B batch, T time, I input channels, O output channels.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import jax.numpy as jnp

from .base import Batch, LengthSpec, Task, _as_range, _check_batch_size, _check_positive
from .base import _draw_jit, _draw_sizes, _flag, _random_bits, _select, _time, register

__all__ = ["RepeatCopyTask"]


@register
@dataclasses.dataclass(frozen=True)
class RepeatCopyTask(Task):
    """L random vectors and a repeat count R; the target is the sequence R times, then an end marker.

    The paper's "nested loop" test. Channels: I = width + 2 (channel ``width`` is the delimiter
    flag; channel ``width+1`` carries R / repeat_norm, on the delimiter step only), O = width + 1
    (the last output channel is the end-of-sequence marker). Layout, padded to
    T = Lmax + 2 + Lmax * Rmax:

    * steps ``0 .. L-1``: the L random vectors;
    * step ``L``: delimiter = 1 and count = R / repeat_norm;
    * steps ``L+1 .. L+L*R``: zero input; targets repeat the sequence R times (end marker 0);
    * step ``L+1+L*R``: target end marker = 1, bits 0;
    * mask = 1 on steps ``L+1 .. L+1+L*R`` inclusive (L*R + 1 scored steps).

    Worked example (width 1, L = 2, bits a, b, R = 2, repeat_norm 10)::

        inputs[bit]    a b 0   0 0 0 0 0
        inputs[delim]  0 0 1   0 0 0 0 0
        inputs[count]  0 0 0.2 0 0 0 0 0
        targets[bit]   0 0 0   a b a b 0
        targets[end]   0 0 0   0 0 0 0 1
        mask           0 0 0   1 1 1 1 1

    Attributes:
        width: bits per vector (the paper: 8).
        train_lengths: inclusive training range of L (the paper: 1 .. 10).
        train_repeats: inclusive training range of R (the paper: 1 .. 10).
        repeat_norm: R is divided by this on input so the count channel stays near [0, 1] (the
            paper normalises the count but does not say how; 10 maps the training range to 0.1 .. 1).
    """

    name: ClassVar[str] = "repeat_copy"
    extra_sizes: ClassVar[tuple[str, ...]] = ("repeats",)

    width: int = 8
    train_lengths: tuple[int, int] = (1, 10)
    train_repeats: tuple[int, int] = (1, 10)
    repeat_norm: float = 10.0

    def __post_init__(self) -> None:
        _check_positive(self.width, what=f"{self.name}: width")
        self._validate_train_lengths()
        repeats = _as_range(self.train_repeats, what=f"{self.name}: train_repeats", allow_int=False)
        object.__setattr__(self, "train_repeats", repeats)
        norm = self.repeat_norm
        is_number = isinstance(norm, (int, float)) and not isinstance(norm, bool)
        if not is_number or not 0 < norm < float("inf"):  # also rejects NaN
            raise ValueError(f"{self.name}: repeat_norm must be a finite number > 0, got {norm!r}")

    @property
    def input_size(self) -> int:
        return self.width + 2

    @property
    def output_size(self) -> int:
        return self.width + 1

    def _repeat_range(self, repeats: LengthSpec) -> tuple[int, int]:
        if repeats is None:
            return self.train_repeats
        return _as_range(repeats, what="repeats")

    def num_steps(self, length: LengthSpec = None, repeats: LengthSpec = None) -> int:
        """T = Lmax + 2 + Lmax * Rmax (maxima of ``length`` and ``repeats`` or their ranges)."""
        _, l_hi = self._length_range(length)
        _, r_hi = self._repeat_range(repeats)
        return l_hi + 2 + l_hi * r_hi

    def sample(
        self,
        key: jax.Array,
        batch_size: int,
        length: LengthSpec = None,
        repeats: LengthSpec = None,
    ) -> Batch:
        """Draw a batch: inputs ``[B, T, width+2]``, targets ``[B, T, width+1]``, mask ``[B, T]``.

        ``repeats`` works like ``length``: None for the training range, an int, or a (lo, hi)
        pair drawn per sequence independently of L. Under ``jax.jit`` it must be static too,
        e.g. ``jax.jit(task.sample, static_argnums=(1, 2), static_argnames="repeats")``.
        """
        sizes = self._length_range(length) + self._repeat_range(repeats)
        return _draw_jit(self, key, _check_batch_size(batch_size), sizes)

    def eval_points(self) -> list[dict]:
        """The training ranges, then lengths 10, 20 x repeats 10, 20 (the paper's figure 8 grid
        lies wholly outside the training ranges)."""
        grid = [{"length": n, "repeats": r} for n in (10, 20) for r in (10, 20)]
        return [{"length": self.train_lengths, "repeats": self.train_repeats}, *grid]

    def show_sizes(self) -> dict:
        return {"length": self.train_lengths[1], "repeats": self.train_repeats[1]}

    def _draw(
        self, key: jax.Array, batch_size: int, l_lo: int, l_hi: int, r_lo: int, r_hi: int
    ) -> Batch:
        num_steps = self.num_steps(l_hi, r_hi)
        key_len, key_rep, key_bits = jax.random.split(key, 3)
        L = _draw_sizes(key_len, batch_size, l_lo, l_hi)  # [B, 1]
        R = _draw_sizes(key_rep, batch_size, r_lo, r_hi)  # [B, 1]
        bits = _random_bits(key_bits, (batch_size, l_hi, self.width))  # [B, Lmax, W]
        t = _time(num_steps)  # [1, T]

        end = L + 1 + L * R  # the end-marker step
        delimiter = t == L
        count = jnp.where(delimiter, R.astype(jnp.float32) / self.repeat_norm, 0.0)
        inputs = jnp.concatenate([_select(bits, t, t < L), _flag(delimiter), count[..., None]], axis=-1)
        # Within the copies, step t shows vector (t - L - 1) mod L: the modulo is the inner loop.
        copies = _select(bits, jnp.mod(t - L - 1, L), (t > L) & (t < end))
        targets = jnp.concatenate([copies, _flag(t == end)], axis=-1)
        mask = ((t > L) & (t <= end)).astype(jnp.float32)
        return Batch(inputs, targets, mask)
