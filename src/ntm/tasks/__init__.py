"""The paper's five tasks (section 4) behind one interface, and a registry by name.

    >>> import jax, ntm.tasks
    >>> task = ntm.tasks.get("copy", width=4)
    >>> batch = task.sample(jax.random.key(0), batch_size=2, length=3)
    >>> batch.inputs.shape, batch.targets.shape, batch.mask.shape   # [B, T, I], [B, T, O], [B, T]
    ((2, 7, 5), (2, 7, 4), (2, 7))
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .base import Batch, Task, register, _REGISTRY

# Import order is registration order, which is the order names() reports (the paper's order).
from .copy import CopyTask
from .repeat_copy import RepeatCopyTask
from .associative_recall import AssociativeRecallTask
from .ngrams import DynamicNGramsTask
from .priority_sort import PrioritySortTask

__all__ = [
    "Batch",
    "Task",
    "CopyTask",
    "RepeatCopyTask",
    "AssociativeRecallTask",
    "DynamicNGramsTask",
    "PrioritySortTask",
    "get",
    "names",
    "register",
]


def names() -> list[str]:
    """Registered task names, in registration order (the paper's order for the built-ins)."""
    return list(_REGISTRY)


def get(name: str, **overrides: Any) -> Task:
    """Construct the task called ``name`` with ``overrides`` of its dataclass fields.

    Hyphens and case are forgiven (``"Repeat-Copy"`` is ``"repeat_copy"``), so names can come
    straight from a command line.

    Raises:
        ValueError: naming the argument, for an unknown name, an unknown field, or a field value
            the task rejects.
    """
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else name
    if key not in _REGISTRY:
        raise ValueError(f"unknown task {name!r}; choose one of: {', '.join(names())}")
    cls = _REGISTRY[key]
    fields = [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []
    unknown = sorted(set(overrides) - set(fields))
    if unknown and fields:
        raise ValueError(
            f"{key}: unknown field(s) {', '.join(unknown)}; fields are: {', '.join(fields)}"
        )
    return cls(**overrides)
