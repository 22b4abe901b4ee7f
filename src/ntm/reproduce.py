"""The paper's experiment grid: five tasks x three models x seeds, with budgets, resumable.

Each cell is an ordinary run directory under ``root/<task>-<model>-seed<S>``; a finished cell
also holds ``result.json`` (training figures and the generalisation sweep of its best checkpoint,
which eval.json holds too, for ``ntm plot``).  Running the grid
again skips finished cells, resumes interrupted ones and starts missing ones, so an interrupted
grid costs only the work since its last checkpoint.

    ntm reproduce --tasks copy,repeat_copy --models ntm-ff --seeds 0 --budget 600
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jax

from ntm import checkpoint, evaluate, paper, presets
from ntm import runs as _runs
from ntm import tasks as _tasks
from ntm import training as _training

__all__ = ["run_cell", "reproduce", "summary_table", "cell_config", "RESULT_FILE"]

RESULT_FILE = "result.json"


def cell_config(task: str, model: str, seed: int = 0, *, sequences: int | None = None,
                time_budget: float | None = None, **overrides: Any) -> _training.TrainConfig:
    """The configuration of one cell: the default recipe with the task's reproduction settings
    (:data:`ntm.paper.REPRODUCTION`: budget, target, learning rate, curriculum, schedule)."""
    task_obj = _tasks.get(task)
    rep = paper.reproduction(task_obj.name)
    fields: dict[str, Any] = dict(
        task=_tasks.spec(task_obj), model=model, seed=seed, sequences=sequences or rep.sequences,
        target_cost=rep.target_cost, time_budget=time_budget, curriculum=[dict(c) for c in rep.curriculum],
        lr_schedule=[dict(e) for e in rep.lr_schedule],
    )
    if rep.learning_rate is not None:
        fields["learning_rate"] = rep.learning_rate
    return _training.TrainConfig(**{**fields, **overrides})


def run_cell(
    root: str | Path,
    task: str,
    model: str,
    seed: int = 0,
    *,
    time_budget: float | None = None,
    sequences: int | None = None,
    progress: bool = True,
    train_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train (or resume, or skip if finished) one cell and evaluate it; returns its result record.

    A finished cell (one with ``result.json``) is returned as it is, unless it stopped on one of its
    budgets and the budgets given now allow more (``sequences`` above the sequences it trained on,
    and ``time_budget`` None or above its wall time): then it resumes and trains on to them.  A cell
    that solved its task, or stopped on non-finite updates, is final.
    """
    task_obj = _tasks.get(task)
    out = Path(root) / f"{task_obj.name}-{model}-seed{seed}"
    result_path = out / RESULT_FILE
    budget = sequences or paper.reproduction(task_obj.name).sequences
    if result_path.exists():
        done = json.loads(result_path.read_text())
        more_time = time_budget is None or time_budget > done["wall_time"] + 1.0
        on_budget = done["stop_reason"] in ("time budget", "budget")
        if not (on_budget and more_time and budget > done["sequences"]):
            return done
    if _runs.Run(out).exists():  # (a cell stopped before its first checkpoint starts again)
        result = _training.resume(out, sequences=budget, time_budget=time_budget, progress=progress)
    else:
        cfg = cell_config(task_obj.name, model, seed, sequences=budget, time_budget=time_budget, **(train_overrides or {}))
        result = _training.train(cfg, out, progress=progress)
    if result.stop_reason == "interrupted":  # checkpointed; the next call resumes this cell
        raise KeyboardInterrupt
    # Generalisation of the best checkpoint (what eval, show and plot use), stored with it too.
    run = _runs.Run(out)
    best, info = run.load_model("best")
    records = evaluate.sweep(best, task_obj, key=jax.random.key(1000 + seed))
    run.add_evaluation(records, info, batch_size=64, seed=1000 + seed)
    record = {
        "task": task_obj.name, "model": model, "seed": seed,
        "parameters": presets.count_parameters(result.model),
        "paper_parameters": paper.PAPER[(task_obj.name, model)].paper_parameters
        if (task_obj.name, model) in paper.PAPER else None,
        "sequences": result.sequences, "wall_time": result.wall_time, "eval_cost": result.eval_cost,
        "solved": result.solved, "stop_reason": result.stop_reason, "generalisation": records,
        "generalisation_checkpoint": info.describe(),
    }
    checkpoint.atomic_write_text(result_path, json.dumps(record, indent=2) + "\n")
    return record


def reproduce(
    root: str | Path,
    tasks: list[str] | None = None,
    models: list[str] | None = None,
    seeds: list[int] | None = None,
    *,
    time_budget: float | None = 600.0,
    sequences: int | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run every (task, model, seed) cell in order; each gets ``time_budget`` seconds of training and
    ``sequences`` sequences (None: the task's budget in :data:`ntm.paper.REPRODUCTION`), whichever ends first."""
    out = []
    for task in tasks or _tasks.names():
        for model in models or list(paper.MODELS):
            for seed in seeds or [0]:
                out.append(
                    run_cell(root, task, model, seed, time_budget=time_budget, sequences=sequences, progress=progress)
                )
    return out


def summary_table(records: list[dict[str, Any]]) -> str:
    """A Markdown table of the records: training figures and the cost at each tested size."""
    lines = [
        "| task | model | seed | params (ours / paper) | sequences | wall s | eval cost (bits/seq) | generalisation (size: cost bits, bit error rate) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        gen = "; ".join(
            f"{g['length']}{'x' + str(g['repeats']) if g.get('repeats') is not None else ''}: "
            f"{g['cost_bits']:.2f}, {100 * g['bit_error_rate']:.1f}%"
            for g in r["generalisation"]
        )
        ec = "-" if r["eval_cost"] is None else f"{r['eval_cost']:.3f}"
        lines.append(
            f"| {r['task']} | {r['model']} | {r['seed']} | {r['parameters']:,} / {r['paper_parameters'] or 0:,} | "
            f"{r['sequences']:,} | {r['wall_time']:.0f} | {ec} | {gen} |"
        )
    return "\n".join(lines)
