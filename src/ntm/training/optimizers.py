"""Optimisers by name, for the configuration adapter and the command line.

:func:`ntm.training.fit` takes any ``optax.GradientTransformation``; these are the ones the
``ntm`` command names.  Each is built once per distinct setting (cached), so runs with equal
settings in one process share one compiled update.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import optax

__all__ = ["OPTIMIZERS", "CLIPS", "make_optimizer", "paper_rmsprop"]

OPTIMIZERS = ("adam", "rmsprop")
CLIPS = ("value", "norm")


def paper_rmsprop(learning_rate) -> optax.GradientTransformation:
    """The centred RMSProp of Graves (2013) that the paper trains with: running averages of g and
    g^2 with decay 0.95, step ``lr * g / sqrt(E[g^2] - E[g]^2 + 1e-4)``, momentum 0.9."""
    return optax.rmsprop(learning_rate, decay=0.95, eps=1e-4, centered=True, momentum=0.9)


@functools.lru_cache(maxsize=None)
def make_optimizer(
    name: str,
    learning_rate: float,
    grad_clip: float,
    schedule: tuple[tuple[int, float], ...] = (),
    clip: str = "value",
) -> optax.GradientTransformation:
    """Gradient clipping, then the named optimiser.

    Args:
        name: ``"adam"`` or ``"rmsprop"`` (:func:`paper_rmsprop`).
        learning_rate: the rate from the first update.
        grad_clip: ``clip="value"``: every component is clipped to ``[-grad_clip, grad_clip]``
            (the paper); ``clip="norm"``: the gradient's global norm is scaled down to at most
            ``grad_clip``.
        schedule: ``((first_update, learning_rate), ...)``, later rates by update count; updates
            that :func:`ntm.training.fit` skips for a non-finite gradient do not count.

    Raises:
        ValueError: an unknown name or clip.
    """
    if schedule:
        starts = jnp.asarray([s for s, _ in schedule])
        rates = jnp.asarray([learning_rate] + [lr for _, lr in schedule], dtype=jnp.float32)
        learning_rate = lambda count: rates[jnp.searchsorted(starts, count, side="right")]  # noqa: E731
    if name == "rmsprop":
        inner = paper_rmsprop(learning_rate)
    elif name == "adam":
        inner = optax.adam(learning_rate)
    else:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    if clip == "value":
        clipping = optax.clip(grad_clip)
    elif clip == "norm":
        clipping = optax.clip_by_global_norm(grad_clip)
    else:
        raise ValueError(f"clip must be one of {', '.join(CLIPS)}, got {clip!r}")
    return optax.chain(clipping, inner)
