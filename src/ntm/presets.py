"""The paper's experimental settings (Tables 1-3) as data, and helpers to build models from them.

Model names: ``"ntm-ff"`` (NTM, feedforward controller), ``"ntm-lstm"`` (NTM, LSTM controller),
``"lstm"`` (the stacked-LSTM baseline).  Every NTM preset uses the paper's 128 x 20 memory and
shifts -1, 0, +1; "heads" in the paper counts read/write head pairs.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import equinox as eqx
import jax

from ntm import tasks as _tasks
from ntm.baseline import LSTMBaseline, LSTMConfig
from ntm.model import NTM, NTMConfig

__all__ = [
    "MODELS",
    "Preset",
    "PAPER",
    "model_config",
    "build_model",
    "count_parameters",
    "config_to_dict",
    "config_from_dict",
]

MODELS = ("ntm-ff", "ntm-lstm", "lstm")


class Preset(NamedTuple):
    """One cell of the paper's tables: model shape overrides, learning rate, published parameter count."""

    model: dict[str, Any]
    learning_rate: float
    paper_parameters: int


def _ntm(heads: int, size: int, lr: float, params: int, layers: int = 1) -> Preset:
    return Preset(
        dict(read_heads=heads, write_heads=heads, controller_size=size, controller_layers=layers), lr, params
    )


def _lstm(size: int, lr: float, params: int) -> Preset:
    return Preset(dict(hidden_size=size, layers=3), lr, params)


# (task, model) -> Preset.  Source: Graves et al. (2014), Tables 1-3.
PAPER: dict[tuple[str, str], Preset] = {
    ("copy", "ntm-ff"): _ntm(1, 100, 1e-4, 17_162),
    ("copy", "ntm-lstm"): _ntm(1, 100, 1e-4, 67_561),
    ("copy", "lstm"): _lstm(256, 3e-5, 1_352_969),
    ("repeat_copy", "ntm-ff"): _ntm(1, 100, 1e-4, 16_712),
    ("repeat_copy", "ntm-lstm"): _ntm(1, 100, 1e-4, 66_111),
    ("repeat_copy", "lstm"): _lstm(512, 3e-5, 5_312_007),
    ("associative_recall", "ntm-ff"): _ntm(4, 256, 1e-4, 146_845),
    ("associative_recall", "ntm-lstm"): _ntm(1, 100, 1e-4, 70_330),
    ("associative_recall", "lstm"): _lstm(256, 1e-4, 1_344_518),
    ("dynamic_ngrams", "ntm-ff"): _ntm(1, 100, 3e-5, 14_656),
    ("dynamic_ngrams", "ntm-lstm"): _ntm(1, 100, 3e-5, 61_749),
    ("dynamic_ngrams", "lstm"): _lstm(128, 1e-4, 331_905),
    ("priority_sort", "ntm-ff"): _ntm(8, 512, 3e-5, 508_305),
    ("priority_sort", "ntm-lstm"): _ntm(5, 100, 3e-5, 269_038, layers=2),
    ("priority_sort", "lstm"): _lstm(128, 3e-5, 384_424),
}


def _check_model(model: str) -> None:
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of: {', '.join(MODELS)}")


def model_config(
    task: str | _tasks.Task, model: str, preset: str | None = "paper", **overrides: Any
) -> NTMConfig | LSTMConfig:
    """The model configuration for a task.

    Args:
        task: a task name or :class:`ntm.tasks.Task` (fixes input and output widths).
        model: ``"ntm-ff"``, ``"ntm-lstm"`` or ``"lstm"``.
        preset: ``"paper"`` for the paper's sizes, or ``None`` for the config defaults.
        **overrides: fields of :class:`NTMConfig` / :class:`LSTMConfig` to set explicitly.

    Raises:
        ValueError: unknown model or preset, an override that is not a field, or a bad value.
    """
    _check_model(model)
    task_obj = _tasks.get(task) if isinstance(task, str) else task
    fields: dict[str, Any] = dict(input_size=task_obj.input_size, output_size=task_obj.output_size)
    if preset == "paper":
        if (task_obj.name, model) not in PAPER:
            raise ValueError(f"the paper preset has no entry for task {task_obj.name!r} and model {model!r}")
        fields.update(PAPER[(task_obj.name, model)].model)
    elif preset is not None:
        raise ValueError(f"unknown preset {preset!r}; choose 'paper' or None")
    if model != "lstm":
        fields["controller"] = "feedforward" if model == "ntm-ff" else "lstm"
    cls = LSTMConfig if model == "lstm" else NTMConfig
    known = {f.name for f in dataclasses.fields(cls)}
    for name in overrides:
        if name not in known:
            raise ValueError(f"{cls.__name__} has no field {name!r}; fields: {', '.join(sorted(known))}")
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return cls(**fields)


def build_model(config: NTMConfig | LSTMConfig, key: jax.Array) -> NTM | LSTMBaseline:
    """Instantiate the model a config describes, with parameters drawn from ``key``."""
    if isinstance(config, NTMConfig):
        return NTM(config, key=key)
    if isinstance(config, LSTMConfig):
        return LSTMBaseline(config, key=key)
    raise ValueError(f"config must be an NTMConfig or LSTMConfig, got {type(config).__name__}")


def count_parameters(model: eqx.Module) -> int:
    """Number of trained scalars (fixed initial memory is not counted)."""
    arrays, _ = eqx.partition(model, model.trainable_filter())
    return sum(x.size for x in jax.tree_util.tree_leaves(arrays))


def config_to_dict(config: NTMConfig | LSTMConfig) -> dict[str, Any]:
    """JSON-ready dict with a ``"kind"`` field (``"ntm"`` or ``"lstm"``)."""
    kind = "ntm" if isinstance(config, NTMConfig) else "lstm"
    return {"kind": kind, **dataclasses.asdict(config)}


def config_from_dict(data: dict[str, Any]) -> NTMConfig | LSTMConfig:
    """Inverse of :func:`config_to_dict`; raises ValueError naming a missing or unknown field."""
    data = dict(data)
    kind = data.pop("kind", None)
    cls = {"ntm": NTMConfig, "lstm": LSTMConfig}.get(kind)
    if cls is None:
        raise ValueError(f"model config: kind must be 'ntm' or 'lstm', got {kind!r}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"model config: unknown field(s) {', '.join(sorted(unknown))}")
    try:
        return cls(**data)
    except TypeError as exc:  # a required field is missing
        raise ValueError(f"model config: {exc}") from None
