"""The task interface shared by the paper's five experiments (section 4), and the registry.

A task turns an explicit PRNG key into a padded batch of episodes. Shapes use this legend:

    B  batch
    T  time steps (padded to the longest episode the requested size range allows)
    I  input channels
    O  output channels

Every concrete task is a frozen dataclass, so it is hashable and can be a static argument of
``jax.jit``; its ``sample`` is a pure function of the key, with no Python loop over batch or time.
Sizes that are static (batch size, the size range) only decide shapes; sizes that vary per
sequence are drawn inside the traced computation and expressed with iota comparisons, so one
compilation serves every size in a range.
"""

from __future__ import annotations

import abc
import functools
import math
import numbers
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["Batch", "Task", "LengthSpec", "register"]

# What callers may pass as a size: None (the task's training range), an exact int, or an
# inclusive (lo, hi) pair drawn uniformly and independently per sequence.
LengthSpec = int | tuple[int, int] | None


class Batch(NamedTuple):
    """One padded batch of episodes (a pytree, so it passes through ``jax.jit``).

    Attributes:
        inputs: ``[B, T, I]`` float32.
        targets: ``[B, T, O]`` float32; 0/1 bits for every task (for n-grams, the next bit).
        mask: ``[B, T]`` float32; 1 where the output is scored, 0 elsewhere, padding included.
    """

    inputs: jax.Array
    targets: jax.Array
    mask: jax.Array


class Task(abc.ABC):
    """Abstract task: what training, evaluation and the pictures need to know about a problem.

    Each task has one "main size" (sequence length, number of items, number of bits...) whose
    training range is ``train_lengths``. Concrete tasks are frozen dataclasses (hashable, so a
    task can be a static argument of ``jax.jit``) declaring ``train_lengths`` as a field and
    validating every field in ``__post_init__``.

    A task must define ``name``, ``input_size``, ``output_size``, ``num_steps`` and ``sample``;
    everything else has a default that suits a task whose targets are bits:

    - :meth:`cost` (the training loss: bits per sequence), :meth:`bit_errors`,
      :meth:`scores` (what an evaluation reports) and :meth:`reference_cost` (a reference
      predictor's cost on the same sequences, where the task has one);
    - :attr:`size_label` and :attr:`extra_sizes` (what the sizes are called; the keyword sizes
      ``sample`` takes besides the main one), :meth:`eval_points` (the default generalisation
      sizes) and :meth:`point_label`, :meth:`show_sizes` (the sizes of a pictured sequence).

    A task of one's own needs no registration to be trained: ``ntm train mypackage.tasks:Reverse``
    imports it (:func:`ntm.tasks.get`), and so does every later command on its run directory.
    """

    name: ClassVar[str]
    # Smallest meaningful main size (associative recall needs two items to have a query).
    min_length: ClassVar[int] = 1
    # What the main size counts, for tables and axes.
    size_label: ClassVar[str] = "length"
    # Sizes besides the main one that ``sample`` and ``num_steps`` take by keyword.
    extra_sizes: ClassVar[tuple[str, ...]] = ()
    train_lengths: tuple[int, int]

    @property
    @abc.abstractmethod
    def input_size(self) -> int:
        """I, the number of input channels."""

    @property
    @abc.abstractmethod
    def output_size(self) -> int:
        """O, the number of output channels."""

    @abc.abstractmethod
    def num_steps(self, length: LengthSpec = None, **kw: Any) -> int:
        """T, the padded episode length for main sizes up to ``length`` (or the top of a range)."""

    @abc.abstractmethod
    def sample(self, key: jax.Array, batch_size: int, length: LengthSpec = None, **kw: Any) -> Batch:
        """Draw ``batch_size`` episodes as a :class:`Batch` with ``T = num_steps(length, ...)``."""

    # Scoring ------------------------------------------------------------------------------------

    def cost(self, logits: jax.Array, batch: Batch) -> jax.Array:
        """``[B]`` the training loss per sequence: binary cross-entropy in bits over scored outputs
        (the paper's "cost per sequence"); training minimises its batch mean."""
        from ntm import metrics

        return metrics.cost_bits(logits, batch.targets, batch.mask)

    def bit_errors(self, logits: jax.Array, batch: Batch) -> jax.Array:
        """``[B]`` wrong bits per sequence (outputs thresholded at probability 1/2), scored steps only."""
        from ntm import metrics

        return metrics.bit_errors(logits, batch.targets, batch.mask)

    def scores(self, logits: jax.Array, batch: Batch) -> dict[str, jax.Array]:
        """What an evaluation reports, each ``[B]``: ``cost_bits`` and ``bit_errors`` at least;
        a task may add references (dynamic n-grams: the Bayes-optimal cost on the same sequences)."""
        return {"cost_bits": self.cost(logits, batch), "bit_errors": self.bit_errors(logits, batch)}

    def reference_cost(self, batch: Batch) -> jax.Array | None:
        """``[B]`` the cost of a known reference predictor on these very sequences, or None.

        A task whose sequences differ in how predictable they are (dynamic n-grams: each draws its
        own n-gram model) gives one, and training then judges each evaluation by its excess over
        the reference on the same batch, not by its raw cost, which would favour easy batches when
        it picks the best checkpoint.  None (the default): the raw cost is the measure."""
        return None

    # Sizes for evaluation and pictures -----------------------------------------------------------

    def eval_points(self) -> list[dict[str, Any]]:
        """The default generalisation sizes, as ``[{"length": ..., <extra size>: ...}, ...]``: the
        paper's test sizes for its tasks; the top of the training range and twice it otherwise."""
        hi = self.train_lengths[1]
        return [{"length": hi}, {"length": 2 * hi}]

    def point_label(self, point: dict[str, Any]) -> str:
        """A short label for one size, e.g. ``"length 120"`` or ``"length 10, repeats 20"``."""

        def fmt(v: Any) -> str:
            return f"{v[0]}-{v[1]}" if isinstance(v, (tuple, list)) else str(v)

        parts = [f"{self.size_label} {fmt(point['length'])}"]
        parts += [f"{name} {fmt(point[name])}" for name in self.extra_sizes if point.get(name) is not None]
        return ", ".join(parts)

    def show_sizes(self) -> dict[str, Any]:
        """The sizes of the one sequence that ``ntm show``, ``program`` and ``view`` run by
        default: the top of every training range."""
        return {"length": self.train_lengths[1]}

    # Helpers shared by the concrete tasks ------------------------------------------------------

    def _draw(self, key: jax.Array, batch_size: int, *sizes: int) -> Batch:
        """The traced body of ``sample`` once arguments are validated: static ``batch_size`` and
        size bounds (e.g. ``lo, hi``). Concrete tasks implement it and route ``sample`` through
        ``_draw_jit``."""
        raise NotImplementedError

    def _length_range(self, length: LengthSpec) -> tuple[int, int]:
        """Resolve ``length`` (None / int / pair) to a validated inclusive (lo, hi)."""
        if length is None:
            return self.train_lengths
        return _as_range(length, what="length", minimum=self.min_length)

    def _validate_train_lengths(self) -> None:
        # Frozen dataclass: normalise a list (e.g. from a JSON config) to a tuple so the task
        # stays hashable, bypassing the frozen __setattr__ exactly once, here.
        value = _as_range(
            self.train_lengths,
            what=f"{self.name}: train_lengths",
            minimum=self.min_length,
            allow_int=False,
        )
        object.__setattr__(self, "train_lengths", value)


@functools.partial(jax.jit, static_argnums=(0, 2, 3))
def _draw_jit(task: Task, key: jax.Array, batch_size: int, sizes: tuple[int, ...]) -> Batch:
    """Run ``task._draw(key, batch_size, *sizes)`` compiled, cached per (task, batch_size, sizes).

    Tasks validate their arguments in Python, then call this. Called eagerly, it saves dispatching
    dozens of small ops one by one (and compiling each for every new shape); inside a caller's
    ``jax.jit`` it simply inlines. Tasks are hashable frozen dataclasses, hence static here.
    """
    return task._draw(key, batch_size, *sizes)


def _is_int(x: Any) -> bool:
    # bool is an int subclass, but "length=True" is surely a mistake.
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _as_range(value: Any, *, what: str, minimum: int = 1, allow_int: bool = True) -> tuple[int, int]:
    """Validate an int or an inclusive (lo, hi) pair; return (lo, hi) as Python ints.

    Raises:
        ValueError: naming ``what`` when the value is not an int/pair or breaks
            ``minimum <= lo <= hi``.
    """
    if allow_int and _is_int(value):
        if value < minimum:
            raise ValueError(f"{what} must be >= {minimum}, got {value!r}")
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value):
        lo, hi = int(value[0]), int(value[1])
        if not minimum <= lo <= hi:
            raise ValueError(f"{what} must satisfy {minimum} <= lo <= hi, got ({lo}, {hi})")
        return lo, hi
    kind = "an inclusive (lo, hi) pair of ints"
    kind = f"an int or {kind}" if allow_int else kind
    raise ValueError(f"{what} must be {kind}, got {value!r}{_static_hint(value)}")


def _static_hint(value: Any) -> str:
    # Sizes decide shapes, so they cannot be traced; the usual cause is a missing static argument.
    parts = value if isinstance(value, (tuple, list)) else (value,)
    if any(isinstance(v, jax.Array) for v in parts):
        return " (sizes set shapes, so they must be static: name them in jax.jit's static_argnums)"
    return ""


def _check_positive(value: Any, *, what: str, minimum: int = 1) -> None:
    """Raise ValueError naming ``what`` unless ``value`` is an int >= ``minimum``."""
    if not _is_int(value) or value < minimum:
        raise ValueError(f"{what} must be an int >= {minimum}, got {value!r}{_static_hint(value)}")


def _check_batch_size(batch_size: Any) -> int:
    _check_positive(batch_size, what="batch_size")
    return int(batch_size)


# Random draws below are made flat and then reshaped. Same distributions; but with JAX's default
# jax_threefry_partitionable, an N-d draw builds per-axis counters, and on CPU that compiles about
# three times slower than a flat draw. Every new batch shape recompiles the sampler, so it counts.


def _draw_sizes(key: jax.Array, batch_size: int, lo: int, hi: int) -> jax.Array:
    """``[B, 1]`` int32 sizes, uniform in [lo, hi]; the trailing axis broadcasts against time."""
    return jax.random.randint(key, (batch_size,), lo, hi + 1, dtype=jnp.int32)[:, None]


def _uniform(
    key: jax.Array, shape: tuple[int, ...], minval: float = 0.0, maxval: float = 1.0
) -> jax.Array:
    """Uniform float32 in [minval, maxval)."""
    flat = jax.random.uniform(key, (math.prod(shape),), minval=minval, maxval=maxval)
    return flat.reshape(shape)


def _time(num_steps: int) -> jax.Array:
    """``[1, T]`` step indices, to compare with ``[B, 1]`` per-sequence boundaries."""
    return jnp.arange(num_steps, dtype=jnp.int32)[None, :]


def _select(seq: jax.Array, index: jax.Array, valid: jax.Array) -> jax.Array:
    """Gather rows of a sequence into time steps, zero where not ``valid``.

    Args:
        seq: ``[B, S, W]`` source rows.
        index: ``[B, T]`` row to show at each step (clipped, so garbage where not valid is safe).
        valid: ``[B, T]`` bool.

    Returns:
        ``[B, T, W]`` float32.
    """
    index = jnp.clip(index, 0, seq.shape[1] - 1)
    rows = jnp.take_along_axis(seq, index[..., None], axis=1)
    return jnp.where(valid[..., None], rows, 0.0).astype(jnp.float32)


def _flag(condition: jax.Array) -> jax.Array:
    """``[B, T]`` bool -> ``[B, T, 1]`` float32 channel."""
    return condition[..., None].astype(jnp.float32)


def _random_bits(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Independent Bernoulli(1/2) bits as float32 (the paper's random binary vectors)."""
    return jax.random.bernoulli(key, 0.5, (math.prod(shape),)).reshape(shape).astype(jnp.float32)


# Registry --------------------------------------------------------------------------------------
# Lives here rather than in the package __init__ so task modules can register themselves without
# importing their own package half-initialised.
_REGISTRY: dict[str, type[Task]] = {}


def _where(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def register(cls: type[Task]) -> type[Task]:
    """Class decorator: make a task constructible by ``ntm.tasks.get(cls.name)``.

    Raises:
        ValueError: if ``cls`` is not a Task with a ``name``, or the name belongs to another class.
    """
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise ValueError(f"register: cls must be a Task subclass, got {cls!r}")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"register: {cls.__qualname__} needs a non-empty class attribute 'name'")
    previous = _REGISTRY.get(name)
    # The same class re-registering (a module reload) is fine; two classes sharing a name is a bug.
    if previous is not None and _where(previous) != _where(cls):
        raise ValueError(f"register: task name {name!r} is already taken by {_where(previous)}")
    _REGISTRY[name] = cls
    return cls
