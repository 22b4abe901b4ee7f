"""Data parallelism over JAX's local devices: each device takes an equal share of every batch.

The devices compute the cost and gradient of their shares and average them with one all-reduce
per update (the results flattened into a single vector: a separate all-reduce per parameter
costs more than it saves at small batches); every device then applies the same update to its
copy of the parameters.  The data and the mathematics are those of the whole batch on one
device; only the order of the float additions in the batch mean changes (tested).
"""

from __future__ import annotations

from typing import Callable

import jax
import numpy as np

from ntm.fast import split_count

__all__ = ["data_parallel_devices", "split_batch", "replicate", "shard_batch", "batch_mesh"]


def data_parallel_devices(batch_size: int) -> int:
    """How many devices share each update: the largest number of JAX's local devices (of the
    default backend) that divides ``batch_size``.  1 with a single device, as JAX has by default
    (:func:`ntm.fast.configure_cpu` makes one CPU device per core)."""
    return split_count(batch_size, jax.local_device_count())


def batch_mesh(devices: int):
    """The first ``devices`` local devices, as a mesh with one axis, ``"batch"``."""
    from jax.sharding import Mesh

    return Mesh(np.array(jax.local_devices()[:devices]), ("batch",))


def split_batch(fn: Callable, devices: int) -> Callable:
    """``fn(params, batch) -> tree of batch means``, computed with the batch split over ``devices``
    devices and the shares' results averaged with a single all-reduce; ``fn`` itself for one."""
    if devices == 1:
        return fn
    from jax.flatten_util import ravel_pytree
    from jax.sharding import PartitionSpec

    def share(params, batch):
        flat, unravel = ravel_pytree(fn(params, batch))
        return unravel(jax.lax.pmean(flat, "batch"))

    # check_vma=False: the model's scan carries start from the (replicated) parameters and become
    # per-device values, which the varying-axes check would reject; the pmean replicates the results.
    return jax.shard_map(
        share, mesh=batch_mesh(devices), in_specs=(PartitionSpec(), PartitionSpec("batch")),
        out_specs=PartitionSpec(), check_vma=False,
    )


def replicate(tree, devices: int):
    """``tree`` copied to each of the first ``devices`` devices, as a split update returns it, so
    that the first call compiles for the layout every later call sees."""
    if devices == 1:
        return tree
    from jax.sharding import NamedSharding, PartitionSpec

    return jax.device_put(tree, NamedSharding(batch_mesh(devices), PartitionSpec()))


def shard_batch(batch, devices: int):
    """A batch made outside the update, laid out over the devices along its leading (batch) axis."""
    if devices == 1:
        return batch
    from jax.sharding import NamedSharding, PartitionSpec

    return jax.device_put(batch, NamedSharding(batch_mesh(devices), PartitionSpec("batch")))


def to_first_device(tree, devices: int):
    """A replicated tree back on one device, as any other array a caller makes."""
    return tree if devices == 1 else jax.device_put(tree, jax.local_devices()[0])
