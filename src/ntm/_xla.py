"""Compiler options for the jitted training and evaluation functions.

XLA's CPU backend hands fused elementwise and dot computations to the YNNPACK library by default.
An NTM step is hundreds of small operations on arrays of a few kilobytes, for which XLA's own
generated loops are faster: turning YNNPACK fusions off cut the forward + backward of a 41-step
copy batch by 1.1-1.7x here (``benchmarks/throughput.py``; numbers in the README).  The option is
ignored by other backends, and dropped when the installed XLA does not know it.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp

__all__ = ["COMPILER_OPTIONS", "compiler_options", "jit"]

COMPILER_OPTIONS: dict[str, Any] = {"xla_cpu_experimental_ynn_fusion_type": ""}


@functools.cache
def compiler_options() -> dict[str, Any]:
    """:data:`COMPILER_OPTIONS` if this XLA accepts them, else ``{}`` (checked once per process)."""
    try:
        jax.jit(lambda x: x + 1, compiler_options=COMPILER_OPTIONS)(jnp.zeros(()))
    except Exception:  # an XLA without the option rejects it at compile time
        return {}
    return dict(COMPILER_OPTIONS)


class _LazyJit:
    """A jitted function whose compiler options are looked up at its first call, not at import."""

    def __init__(self, fun: Callable, filter: bool, kwargs: dict[str, Any]):
        self._fun, self._filter, self._kwargs = fun, filter, kwargs
        self._jitted: Callable | None = None
        functools.update_wrapper(self, fun)

    def __call__(self, *args, **kwargs):
        if self._jitted is None:
            wrap = eqx.filter_jit if self._filter else jax.jit
            self._jitted = wrap(self._fun, **self._kwargs, compiler_options=compiler_options())
        return self._jitted(*args, **kwargs)


def jit(fun: Callable | None = None, *, filter: bool = False, **kwargs):
    """``jax.jit`` (or ``eqx.filter_jit`` with ``filter=True``) with :func:`compiler_options`.

    Usable as ``@jit``, ``@jit(filter=True)`` or ``jit(f, static_argnums=...)``.
    """
    if fun is None:
        return lambda f: _LazyJit(f, filter, kwargs)
    return _LazyJit(fun, filter, kwargs)
