"""What makes NTMs fast on a CPU, public so that a user's own loop gets the same speed.

- :func:`jit`: ``jax.jit`` / ``eqx.filter_jit`` that compiles calls whose arguments contain an
  NTM with :data:`COMPILER_OPTIONS` (XLA's own loop fusions instead of YNNPACK, no tree reduction
  rewriting of the sums over memory locations, copy insertion that lets each step's new memory
  reuse the old one's buffer, the CPU's widest vectors).  Calls without an NTM compile as usual.
- :func:`configure_cpu`: create JAX's CPU client with one thread per device and one device per
  core that a batch splits over; call it first thing, before JAX computes anything.  Training
  (:func:`ntm.training.make_step`, :func:`ntm.training.fit`) then splits each batch over the
  devices and averages their gradients.
- :mod:`ntm.fast.columns`: the memory operations on the transposed memory ``[B, M, N]`` that
  ``NTM.run`` uses inside its scan, with hand-written gradients (checked against
  :mod:`ntm.memory` and :mod:`ntm.addressing`, the readable reference, in the tests).

Why each of these pays, with measurements: docs/performance.md.
"""

from __future__ import annotations

from ntm.fast.xla import COMPILER_OPTIONS, compiler_options, contains_ntm, cpu_count, jit, one_thread_cpu_client, split_count

__all__ = [
    "COMPILER_OPTIONS",
    "compiler_options",
    "configure_cpu",
    "configure_for_training",
    "training_devices",
    "contains_ntm",
    "cpu_count",
    "jit",
    "split_count",
]


def configure_cpu(devices: int | None = None) -> bool:
    """Create JAX's CPU client with one thread per device and ``devices`` devices (default: one
    per core); True if that was done.

    Must run before JAX's first computation (it returns False, changing nothing, if JAX has
    already started, on a one-CPU machine, off Linux, or when the default backend is not the
    CPU).  Use as many devices as your batch size divides into: a program on one device of a
    many-device client runs slower than on a one-device client.  Large matrix products (an
    LSTM of thousands of units) are better served by JAX's default client, which spreads each
    operation over every core; leave this out for those.
    """
    if devices is None:
        devices = cpu_count()
    return one_thread_cpu_client(devices)


def training_devices(models, batch_size: int | None, cores: int | None = None) -> int | None:
    """How many single-thread CPU devices the ``ntm`` command creates for training ``models``
    (names such as ``"ntm-ff"``) at ``batch_size`` on ``cores`` cores (default: this machine's);
    None: keep JAX's default client.

    NTMs get one device per core that the batch splits over (:func:`split_count`; one for no
    training or a batch that does not split).  Training that is only the LSTM baseline keeps JAX's
    default client, whose thread pool serves its large matrix products.
    """
    if models and set(models) == {"lstm"}:
        return None
    if not isinstance(batch_size, int) or batch_size < 1:
        return 1  # no training, or a bad batch, which the caller reports
    return split_count(batch_size, cpu_count() if cores is None else max(1, cores))


def configure_for_training(models, batch_size: int | None, cores: int | None = None) -> bool:
    """Set up JAX's CPU client as the ``ntm`` command does (:func:`training_devices`), before JAX
    starts; True if a client was created.  Nothing is done where the environment sets
    ``NTM_CPU_THREADS`` to anything but 1."""
    import os

    if os.environ.get("NTM_CPU_THREADS", "1") != "1":
        return False
    devices = training_devices(models, batch_size, cores)
    return False if devices is None else configure_cpu(devices)
