"""Trained models shipped inside the package: ``src/ntm/pretrained/<task>/``.

Each is a run directory holding ``config.json`` (the run's resolved config) and
``best.safetensors`` (parameters only, no optimiser state), loaded without executing code, and
every command that opens a run opens it as ``shipped:TASK`` (``ntm program shipped:copy``).

    model, cfg = ntm.pretrained.load("copy")
"""

from __future__ import annotations

import shutil
from pathlib import Path

import equinox as eqx
import jax

from ntm import runs as _runs
from ntm import tasks as _tasks
from ntm.training import TrainConfig, read_config
from ntm.training.step import trainable

__all__ = ["ROOT", "available", "load", "export"]

ROOT = Path(__file__).parent / "pretrained"


def available() -> list[str]:
    """Names of the tasks with a shipped model."""
    if not ROOT.is_dir():
        return []
    return sorted(p.name for p in ROOT.iterdir() if (p / _runs.BEST_FILE).is_file())


def load(task: str) -> tuple[eqx.Module, TrainConfig]:
    """Load the shipped model of ``task``: ``(model, train_config)``.

    Raises:
        ValueError: unknown task, or no shipped model for it (the message lists those there are).
    """
    name = _tasks.get(task).name
    folder = ROOT / name
    if not (folder / _runs.BEST_FILE).is_file():
        raise ValueError(f"no shipped model for task {name!r}; shipped: {', '.join(available()) or 'none'}")
    run = _runs.Run(folder)
    model, _ = run.load_model("best")
    return model, read_config(run)


def export(run_dir: str | Path, task: str | None = None, which: str = "best") -> Path:
    """Copy a trained run's config and the parameters of its ``which`` checkpoint ("best" or
    "last"; not its optimiser state) into the package."""
    run = _runs.Run(run_dir)
    model, info = run.load_model(which)
    folder = ROOT / (task or run.task_name)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run.path / _runs.CONFIG_FILE, folder / _runs.CONFIG_FILE)
    params, _ = eqx.partition(model, trainable(model))
    target = _runs.Run(folder)
    target.save_best(params, {"step": 0, "sequences": info.sequences, "wall_time": 0.0, "eval_cost": info.eval_cost})
    return folder


def demo(task: str = "copy", out_path: str | Path | None = None, *, length: int | None = None, seed: int = 0) -> str:
    """Run the shipped model of ``task`` on one fresh example, with no training.

    Returns a text showing the inputs, targets and outputs (rounded) of the scored steps, and,
    if ``out_path`` is given, writes the memory-access picture there.

    For dynamic n-grams the example is the first from ``seed`` on (seed, seed + 1, ...) whose
    targets are between 30% and 70% ones: many of its random n-gram tables emit almost only 0s
    (or only 1s), a sequence that shows little of what the model predicts.  The text names the
    seed used, so the same example comes back when that seed is asked for.
    """
    import numpy as np

    from ntm import evaluate, viz

    model, cfg = load(task)

    def sample(s: int) -> evaluate.SequenceTrace:
        return evaluate.sample_trace(model, cfg.task_obj(), length, key=jax.random.key(s))

    def mixed(seq: evaluate.SequenceTrace) -> bool:
        return 0.3 <= float(np.mean(seq.targets[seq.mask > 0])) <= 0.7

    used = seed
    if cfg.task == "dynamic_ngrams":  # (a mixed sequence comes within a few seeds; 100 is a bound)
        used = next((s for s in range(seed, seed + 100) if mixed(sample(s))), seed)
    seq = sample(used)

    one_channel = seq.inputs.shape[-1] == 1  # (n-grams: one bit a step, written across, 100 a line)

    def bits(rows: np.ndarray) -> str:
        marks = ["".join("#" if v > 0.5 else "." for v in row) for row in rows]
        lines = ["".join(marks[i:i + 100]) for i in range(0, len(marks), 100)] if one_channel else marks
        return "\n".join("  " + line for line in lines)

    valid = int(np.max(np.nonzero(seq.inputs.any(-1) | (seq.mask > 0))[0])) + 1
    scored = seq.mask > 0
    chosen = "" if used == seed else f", the first from seed {seed} with a mix of 0s and 1s"
    text = [
        f"{cfg.task}: shipped {cfg.model} model, one fresh sequence (seed {used}{chosen})",
        f"inputs ({'time across' if one_channel else 'time down, channels across'}; '#' = 1):\n"
        f"{bits(seq.inputs[:valid])}",
        f"targets on the scored steps:\n{bits(seq.targets[scored])}",
        f"outputs (thresholded at 0.5):\n{bits(seq.outputs[scored])}",
        f"cost {seq.cost_bits:.4f} bits, {seq.bit_errors:.0f} bit errors",
    ]
    if out_path is not None:
        viz.plot_memory_access(seq.inputs, seq.targets, seq.outputs, seq.trace, out_path,
                               f"{cfg.task}, shipped {cfg.model}: cost {seq.cost_bits:.3g} bits", mask=seq.mask)
        text.append(f"memory-access picture: {out_path}")
    return "\n".join(text)
