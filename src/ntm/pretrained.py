"""Trained models shipped inside the package: ``src/ntm/pretrained/<task>/``.

Each holds ``config.json`` (the run's resolved config) and ``params.safetensors`` (parameters
only, no optimiser state), loaded without executing code.

    model, cfg = ntm.pretrained.load("copy")
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import equinox as eqx
import jax

from ntm import checkpoint, presets
from ntm import tasks as _tasks
from ntm import train as _train

__all__ = ["ROOT", "available", "load", "export"]

ROOT = Path(__file__).parent / "pretrained"
PARAMS_FILE = "params.safetensors"


def available() -> list[str]:
    """Names of the tasks with a shipped model."""
    if not ROOT.is_dir():
        return []
    return sorted(p.name for p in ROOT.iterdir() if (p / PARAMS_FILE).is_file())


def load(task: str) -> tuple[eqx.Module, _train.TrainConfig]:
    """Load the shipped model of ``task``: ``(model, train_config)``.

    Raises:
        ValueError: unknown task, or no shipped model for it (the message lists those there are).
    """
    name = _tasks.get(task).name
    folder = ROOT / name
    if not (folder / PARAMS_FILE).is_file():
        raise ValueError(f"no shipped model for task {name!r}; shipped: {', '.join(available()) or 'none'}")
    cfg = _train.TrainConfig.from_dict(json.loads((folder / _train.CONFIG_FILE).read_text())["train"]).resolved()
    model = presets.build_model(cfg.model_config(), jax.random.key(cfg.seed))
    params, static = eqx.partition(model, model.trainable_filter())
    params, _ = checkpoint.load(folder / PARAMS_FILE, params)
    return eqx.combine(params, static), cfg


def export(run_dir: str | Path, task: str | None = None) -> Path:
    """Copy a trained run's config and parameters (not its optimiser state) into the package."""
    model, cfg, meta = _train.load_run(run_dir)
    folder = ROOT / (task or cfg.task)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(run_dir) / _train.CONFIG_FILE, folder / _train.CONFIG_FILE)
    params, _ = eqx.partition(model, model.trainable_filter())
    checkpoint.save(folder / PARAMS_FILE, params, {"sequences": meta.get("sequences"), "eval_cost": meta.get("eval_cost")})
    return folder


def demo(task: str = "copy", out_path: str | Path | None = None, *, length: int | None = None, seed: int = 0) -> str:
    """Run the shipped model of ``task`` on one fresh example, with no training.

    Returns a text showing the inputs, targets and outputs (rounded) of the scored steps, and,
    if ``out_path`` is given, writes the memory-access picture there.
    """
    import numpy as np

    from ntm import evaluate, viz

    model, cfg = load(task)
    seq = evaluate.sample_trace(model, cfg.task_obj(), length, key=jax.random.key(seed))

    def bits(rows: np.ndarray) -> str:
        return "\n".join("  " + "".join("#" if v > 0.5 else "." for v in row) for row in rows)

    valid = int(np.max(np.nonzero(seq.inputs.any(-1) | (seq.mask > 0))[0])) + 1
    scored = seq.mask > 0
    text = [
        f"{cfg.task}: shipped {cfg.model} model, one fresh sequence (seed {seed})",
        f"inputs (time down, channels across; '#' = 1):\n{bits(seq.inputs[:valid])}",
        f"targets on the scored steps:\n{bits(seq.targets[scored])}",
        f"outputs (thresholded at 0.5):\n{bits(seq.outputs[scored])}",
        f"cost {seq.cost_bits:.4f} bits, {seq.bit_errors:.0f} bit errors",
    ]
    if out_path is not None:
        viz.plot_memory_access(seq.inputs, seq.targets, seq.outputs, seq.trace, out_path,
                               f"{cfg.task}, shipped {cfg.model}: cost {seq.cost_bits:.3g} bits")
        text.append(f"memory-access picture: {out_path}")
    return "\n".join(text)
