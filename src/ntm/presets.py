"""Model configurations for a task (the paper's sizes from :mod:`ntm.paper`, or the config
defaults), building models from them, and their JSON form.

Model names: ``"ntm-ff"`` (NTM, feedforward controller), ``"ntm-lstm"`` (NTM, LSTM controller),
``"lstm"`` (the stacked-LSTM baseline).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import equinox as eqx
import jax

from ntm import tasks as _tasks
from ntm.baseline import LSTMBaseline, LSTMConfig
from ntm.model import NTM, NTMConfig
from ntm.paper import MODELS, PAPER, Preset

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

# The paper's tables live in ntm.paper; re-exported here for model building.


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
        preset: ``"paper"`` for the paper's sizes (the config defaults for a task the paper does
            not have), or ``None`` for the config defaults.
        **overrides: fields of :class:`NTMConfig` / :class:`LSTMConfig` to set explicitly.

    Raises:
        ValueError: unknown model or preset, an override that is not a field, or a bad value.
    """
    _check_model(model)
    task_obj = _tasks.get(task) if isinstance(task, str) else task
    fields: dict[str, Any] = dict(input_size=task_obj.input_size, output_size=task_obj.output_size)
    if preset == "paper":  # the paper's sizes for its tasks; a task of the user's keeps the defaults
        if (task_obj.name, model) in PAPER:
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


def as_trained(requested: NTMConfig | LSTMConfig, section: dict[str, Any]) -> NTMConfig | LSTMConfig:
    """The config to resume a run with whose config.json holds ``section``, when ``requested``
    is asked for: the saved config where the two agree in every field the section records, so that
    a field added since the run was saved keeps the value the run was trained with (as
    :func:`config_from_dict` reads it) rather than today's default; otherwise ``requested``
    unchanged, for the resume check to refuse as another model."""
    try:
        saved = config_from_dict(section)
    except (ValueError, TypeError):
        return requested
    if type(saved) is not type(requested):
        return requested
    recorded = set(section) - {"kind"}
    if all(getattr(saved, f) == getattr(requested, f) for f in recorded):
        return saved
    return requested


def config_from_dict(data: dict[str, Any]) -> NTMConfig | LSTMConfig:
    """Inverse of :func:`config_to_dict`; raises ValueError naming a missing or unknown field.

    An NTM config without ``state_grad_clip`` was saved before that field existed, and is read
    back with 0 (no bound), as it was trained; :func:`config_to_dict` always writes the field."""
    data = dict(data)
    kind = data.pop("kind", None)
    cls = {"ntm": NTMConfig, "lstm": LSTMConfig}.get(kind)
    if cls is None:
        raise ValueError(f"model config: kind must be 'ntm' or 'lstm', got {kind!r}")
    if cls is NTMConfig:
        # Configs saved before the bound on backpropagation through time existed were trained
        # without one: rebuild them as they were, not with today's default.
        data.setdefault("state_grad_clip", 0.0)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"model config: unknown field(s) {', '.join(sorted(unknown))}")
    try:
        return cls(**data)
    except TypeError as exc:  # a required field is missing
        raise ValueError(f"model config: {exc}") from None
