"""The paper's five tasks (section 4) behind one interface, and how tasks are found by name.

    >>> import jax, ntm.tasks
    >>> task = ntm.tasks.get("copy", width=4)
    >>> batch = task.sample(jax.random.key(0), batch_size=2, length=3)
    >>> batch.inputs.shape, batch.targets.shape, batch.mask.shape   # [B, T, I], [B, T, O], [B, T]
    ((2, 7, 5), (2, 7, 4), (2, 7))

A task is found by its registered name (:func:`register`), by an import path
``"package.module:Class"``, or by a name that an installed package declares in the entry-point
group ``ntm.tasks`` (in its pyproject.toml: ``[project.entry-points."ntm.tasks"]``,
``reverse = "mypackage.tasks:Reverse"``).  :func:`spec` gives the string that finds a task's class
again, which run directories record.
"""

from __future__ import annotations

import dataclasses
import importlib
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
    "ENTRY_POINT_GROUP",
    "get",
    "names",
    "register",
    "resolve",
    "spec",
    "arguments",
]

ENTRY_POINT_GROUP = "ntm.tasks"


def names() -> list[str]:
    """Registered task names, in registration order (the paper's order for the built-ins)."""
    return list(_REGISTRY)


def resolve(name: str) -> type[Task]:
    """The task class that ``name`` finds: a registered name (hyphens and case forgiven), an import
    path ``"module:Class"``, or a name in the ``ntm.tasks`` entry-point group.

    Raises:
        ValueError: in one line, naming what could not be found or imported.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a task is a name or an import path 'module:Class', got {name!r}")
    if ":" in name:
        return _import(name.strip(), what="task")
    key = name.strip().lower().replace("-", "_")
    if key in _REGISTRY:
        return _REGISTRY[key]
    found = _entry_point(key)
    if found is not None:
        return found
    raise ValueError(
        f"unknown task {name!r}; choose one of: {', '.join(names())}, or give an import path 'module:Class'"
    )


def _import(path: str, *, what: str) -> type[Task]:
    module_name, _, attr = path.partition(":")
    try:
        obj = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except ImportError as exc:
        raise ValueError(f"cannot import {what} {path!r}: {exc}") from None
    except AttributeError:
        raise ValueError(f"cannot import {what} {path!r}: {module_name} has no {attr!r}") from None
    if not (isinstance(obj, type) and issubclass(obj, Task)):
        raise ValueError(f"{what} {path!r} is not a subclass of ntm.tasks.Task")
    return obj


def _entry_point(key: str) -> type[Task] | None:
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name.lower().replace("-", "_") == key:
            return _import(ep.value, what=f"task {ep.name!r} of entry point group {ENTRY_POINT_GROUP!r}")
    return None


def get(name: str, **overrides: Any) -> Task:
    """Construct the task that ``name`` finds (:func:`resolve`) with ``overrides`` of its fields.

    Raises:
        ValueError: naming the argument, for an unknown name, a bad import path, an unknown
            field, or a field value the task rejects.
    """
    cls = resolve(name)
    label = getattr(cls, "name", cls.__qualname__)
    fields = [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        listed = f"; fields are: {', '.join(fields)}" if fields else " (it has no fields)"
        raise ValueError(f"{label}: unknown field(s) {', '.join(unknown)}{listed}")
    try:
        return cls(**overrides)
    except TypeError as exc:  # e.g. a required field without a default
        raise ValueError(f"{label}: {exc}") from None


def spec(task: Task) -> str:
    """The string that finds ``task``'s class again: its registered name, or ``"module:Class"``."""
    cls = type(task)
    if _REGISTRY.get(getattr(cls, "name", None)) is cls:
        return cls.name
    return f"{cls.__module__}:{cls.__qualname__}"


def arguments(task: Task) -> dict[str, Any]:
    """The task's fields as JSON-ready values (tuples as lists), so ``get(spec(t), **arguments(t))``
    rebuilds it."""
    if not dataclasses.is_dataclass(task):
        return {}

    def plain(v: Any) -> Any:
        return list(v) if isinstance(v, tuple) else v

    return {f.name: plain(getattr(task, f.name)) for f in dataclasses.fields(task)}
