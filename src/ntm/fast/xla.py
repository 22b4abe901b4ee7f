"""Compiler options that make NTM programs fast on XLA's CPU backend, and a jit that applies them.

XLA's CPU backend hands fused elementwise and dot computations to the YNNPACK library by default.
An NTM step is hundreds of small operations on arrays of a few kilobytes, for which XLA's own
generated loops do better, while large matrix products (an LSTM's, an MLP's) run faster with
YNNPACK (docs/performance.md).  So :func:`jit` applies the options to calls whose arguments
contain an NTM (a model, a user's module holding one, or their parameters partitioned by
equinox), and to nothing else.  It is ignored by other backends, and dropped when the installed XLA does not know it.
The other options (see :data:`COMPILER_OPTIONS`) keep XLA from splitting the sums over memory
locations (passed on the CPU only), let a loop's new memory take the old one's buffer, and let
the vectoriser use the CPU's widest registers; each is dropped when the installed XLA does not
know it.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp

__all__ = [
    "COMPILER_OPTIONS", "compiler_options", "contains_ntm", "cpu_count", "jit", "one_thread_cpu_client", "split_count",
]

COMPILER_OPTIONS: dict[str, Any] = {
    "xla_cpu_experimental_ynn_fusion_type": "",
    # XLA splits every sum or maximum over more than 32 elements (the softmaxes over N locations,
    # and their gradients) into a separate, unfusable reduce-window of 32-element pieces followed
    # by a small reduction: dozens of extra operations per NTM step.  Without the split, updates are
    # faster and compile in less time; the sums are over 128 terms, where the split's accuracy gain
    # is immaterial.
    "xla_disable_hlo_passes": "tree_reduction_rewriter",
    # Copy insertion with region analysis sees that a loop's new memory may take the buffer of the
    # old one once the old one has been read, instead of copying the whole memory at every step.
    "xla_cpu_copy_insertion_use_region_analysis": True,
    # Let the vectoriser use 512-bit registers where the CPU has them (AVX-512; elsewhere it falls
    # back to the widest the CPU has): faster at every batch but 1, where it costs a little, which
    # is kept for one set of options for every NTM program.
    "xla_cpu_prefer_vector_width": 512,
}


@functools.cache
def compiler_options() -> dict[str, Any]:
    """The entries of :data:`COMPILER_OPTIONS` that this XLA accepts (checked once per process)."""
    accepted = {}
    for name, value in COMPILER_OPTIONS.items():
        if name == "xla_disable_hlo_passes" and jax.default_backend() != "cpu":
            continue  # GPUs have a pass of the same name, for reasons of their own
        try:
            jax.jit(lambda x: x + 1, compiler_options={name: value})(jnp.zeros(()))
        except Exception:  # an XLA without the option rejects it at compile time
            continue
        accepted[name] = value
    return accepted


def contains_ntm(tree: Any) -> bool:
    """Whether a pytree (a model, its parameters, a tuple of arguments) holds an NTM anywhere."""
    from ntm.model import NTM

    is_ntm = lambda x: isinstance(x, NTM)  # noqa: E731
    return any(is_ntm(leaf) for leaf in jax.tree_util.tree_leaves(tree, is_leaf=is_ntm))


class _LazyJit:
    """A jitted function whose compiler options are chosen at each call, not at import:
    :func:`compiler_options` when an argument contains an NTM, none otherwise (one compiled
    wrapper of each kind)."""

    def __init__(self, fun: Callable, filter: bool, kwargs: dict[str, Any]):
        self._fun, self._filter, self._kwargs = fun, filter, kwargs
        self._jitted: dict[bool, Callable] = {}
        functools.update_wrapper(self, fun)

    def __call__(self, *args, **kwargs):
        use = contains_ntm((args, kwargs))
        if use not in self._jitted:
            wrap = eqx.filter_jit if self._filter else jax.jit
            options = compiler_options() if use else {}
            self._jitted[use] = wrap(self._fun, **self._kwargs, compiler_options=options)
        return self._jitted[use](*args, **kwargs)


def jit(fun: Callable | None = None, *, filter: bool = False, **kwargs):
    """``jax.jit`` (or ``eqx.filter_jit`` with ``filter=True``), with :func:`compiler_options`
    whenever the arguments of a call contain an NTM.

    Usable as ``@jit``, ``@jit(filter=True)`` or ``jit(f, static_argnums=...)``.  Functions whose
    arguments hold no NTM compile exactly as under ``jax.jit``, so wrapping a whole training step
    (the user's own layers included) is safe.
    """
    if fun is None:
        return lambda f: _LazyJit(f, filter, kwargs)
    return _LazyJit(fun, filter, kwargs)


def split_count(batch_size: int, devices: int) -> int:
    """The largest number of devices, at most ``devices``, that share ``batch_size`` equally."""
    return max(d for d in range(1, devices + 1) if batch_size % d == 0)


def cpu_count() -> int:
    """The number of CPUs this process may run on."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def one_thread_cpu_client(devices: int = 1) -> bool:
    """Create JAX's CPU client with ``devices`` CPU devices and one thread per device; True if that
    was done.

    The CPU client sizes its thread pool by the CPUs the process may run on when it is created (and
    by its number of devices, if larger), and spreads each program's operations over that pool.
    An NTM step is hundreds of operations on a few kilobytes each, for which handing work between
    cores costs more than it saves: on a 2-core machine a one-thread pool trains the NTM-FF
    faster (docs/performance.md), and compilation, which uses its own threads,
    is not slowed.  So the client is created while this thread may run on one CPU only, and every
    thread is allowed all CPUs again afterwards.

    The other cores are better used as devices of their own: with ``devices=2`` on 2 cores,
    training splits each batch across the two (:func:`ntm.training.data_parallel_devices`).  A program that runs on one device of such a client is
    slower than on a one-device client, though (its pool has two threads), so the
    ``ntm`` command asks for more than one device only when it trains with a batch it can split.
    A device count chosen beforehand (``jax_num_cpu_devices``, or
    ``--xla_force_host_platform_device_count`` in ``XLA_FLAGS``) is kept.

    Must run before JAX's first computation.  Returns False, having changed nothing, if the
    client already exists, on a one-CPU machine, or where thread affinity cannot be set (not
    Linux); also False when JAX's default backend is not the CPU (a GPU), where it matters little.
    The ``ntm`` command calls it unless ``NTM_CPU_THREADS`` is set to something other than 1.
    """
    import os

    from jax._src import xla_bridge

    if not hasattr(os, "sched_setaffinity") or xla_bridge.backends_are_initialized():
        return False
    allowed = os.sched_getaffinity(0)
    if len(allowed) <= 1:
        return False
    chosen = jax.config.jax_num_cpu_devices >= 0 or "xla_force_host_platform_device_count" in os.environ.get(
        "XLA_FLAGS", ""
    )
    if not chosen:
        jax.config.update("jax_num_cpu_devices", devices)
    os.sched_setaffinity(0, {min(allowed)})
    try:
        jax.devices("cpu")
    finally:
        for tid in os.listdir("/proc/self/task"):
            try:
                os.sched_setaffinity(int(tid), allowed)
            except OSError:  # a thread that has exited meanwhile
                pass
    return jax.default_backend() == "cpu"
