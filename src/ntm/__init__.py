"""Neural Turing Machines (Graves, Wayne & Danihelka, 2014) in JAX.

The public surface:

- :class:`NTM`, :class:`NTMConfig`: the machine; :class:`LSTMBaseline`, :class:`LSTMConfig`: the baseline.
- :mod:`ntm.addressing`, :mod:`ntm.memory`: the paper's equations as pure batched functions.
- :mod:`ntm.tasks`: the five algorithmic tasks behind one interface (``ntm.tasks.get("copy")``).
- :mod:`ntm.metrics`: cost in bits per sequence, bit errors, the n-gram Bayes-optimal reference.
- :mod:`ntm.paper`: the paper's settings (Tables 1-3) and this library's recipes, in one place;
  :mod:`ntm.presets`: model configs for a task, model building and parameter counts.
- :mod:`ntm.fast`: the compiler options and CPU set-up that make NTMs fast, for loops of one's own.
- :mod:`ntm.training` (``fit``, ``make_step``, the JSON/CLI configuration), :mod:`ntm.runs` (run
  directories), :mod:`ntm.evaluate`, :mod:`ntm.pretrained`, :mod:`ntm.viz`, :mod:`ntm.program`,
  :mod:`ntm.viewer`, :mod:`ntm.reproduce`: training, run directories, evaluation, the shipped
  models, pictures, the learned program, the HTML viewer and the paper's experiment grid (imported
  on first use, so that ``import ntm`` stays light).
"""

import importlib

from ntm import addressing, memory, metrics, paper, presets, tasks
from ntm.baseline import LSTMBaseline, LSTMConfig
from ntm.model import NTM, NTMConfig, NTMState, NTMTrace
from ntm.presets import build_model, count_parameters, model_config

__version__ = "0.1.0"

__all__ = [
    "NTM",
    "NTMConfig",
    "NTMState",
    "NTMTrace",
    "LSTMBaseline",
    "LSTMConfig",
    "addressing",
    "memory",
    "metrics",
    "paper",
    "presets",
    "tasks",
    "build_model",
    "count_parameters",
    "model_config",
]

_LAZY = ("training", "runs", "fast", "evaluate", "pretrained", "viz", "program", "viewer", "reproduce", "checkpoint", "cli")


def __getattr__(name: str):
    if name in _LAZY:
        return importlib.import_module(f"ntm.{name}")
    raise AttributeError(f"module 'ntm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))
