"""The paper's experiment grid: five tasks x three models x seeds, with budgets, resumable.

Each cell is an ordinary run directory under ``root/<task>-<model>-seed<S>``; a finished cell
also holds ``result.json`` (training figures and the generalisation sweep of its best checkpoint,
which eval.json holds too, for ``ntm plot``).  Running the grid
again skips finished cells, resumes interrupted ones and starts missing ones, so an interrupted
grid costs only the work since its last checkpoint.

    ntm reproduce --tasks copy,repeat_copy --models ntm-ff --seeds 0 --budget 600
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ntm import grid, paper
from ntm import tasks as _tasks
from ntm import training as _training
from ntm.grid import RESULT_FILE

__all__ = ["run_cell", "reproduce", "grid_jobs", "summary_table", "cell_config", "cell_job", "cell_dir", "RESULT_FILE"]


def cell_config(task: str, model: str, seed: int = 0, *, sequences: int | None = None,
                time_budget: float | None = None, **overrides: Any) -> _training.TrainConfig:
    """The configuration of one cell: the default recipe with the task's reproduction settings
    (:func:`ntm.paper.reproduction_recipe`: budget, target, learning rate, curriculum, schedule,
    and the model's own recipe where the task has one)."""
    task_obj = _tasks.get(task)
    fields: dict[str, Any] = dict(task=_tasks.spec(task_obj), model=model, seed=seed, time_budget=time_budget,
                                  **paper.reproduction_recipe(task_obj.name, model))
    if sequences:
        fields["sequences"] = sequences
    return _training.TrainConfig(**{**fields, **overrides})


def cell_dir(root: str | Path, task: str, model: str, seed: int) -> Path:
    """Where a cell's run directory is: ``root/<task>-<model>-seed<S>``."""
    return Path(root) / f"{_tasks.get(task).name}-{model}-seed{seed}"


def cell_job(root: str | Path, task: str, model: str, seed: int = 0, *, time_budget: float | None = None,
             sequences: int | None = None, train_overrides: dict[str, Any] | None = None) -> grid.Job:
    """The :class:`ntm.grid.Job` that trains one cell (and evaluates its generalisation)."""
    cfg = cell_config(task, model, seed, sequences=sequences, time_budget=time_budget, **(train_overrides or {}))
    return grid.Job([cfg], [cell_dir(root, task, model, seed)])


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
    job = cell_job(root, task, model, seed, time_budget=time_budget, sequences=sequences,
                   train_overrides=train_overrides)
    return grid.run_job(job, progress=progress)[0]


def reproduce(
    root: str | Path,
    tasks: list[str] | None = None,
    models: list[str] | None = None,
    seeds: list[int] | None = None,
    *,
    time_budget: float | None = 600.0,
    sequences: int | None = None,
    progress: bool = True,
    ray: bool | str = False,
    cpus: int = 1,
    gpus: float = 0,
    train_overrides: dict[str, Any] | None = None,
    ensembles: bool = False,
) -> list[dict[str, Any]]:
    """Run every (task, model, seed) cell; each gets ``time_budget`` seconds of training and
    ``sequences`` sequences (None: the task's budget in :data:`ntm.paper.REPRODUCTION`), whichever
    ends first.  Here the cells run in order; with ``ray`` (True: a local Ray instance; or a
    cluster's address) each is a Ray task asking for ``cpus`` CPUs and ``gpus`` GPUs
    (:func:`ntm.grid.run`).  With ``ensembles`` the seeds of a task and model train together,
    as one ensemble (one job; each seed's cell is the run it would be alone, up to float
    rounding, in the same directory); ``time_budget`` then counts the ensemble's seconds.  The
    LSTM baseline's seeds train one at a time even then (see :data:`LONE_MODELS`)."""
    jobs = grid_jobs(root, tasks, models, seeds, time_budget=time_budget, sequences=sequences,
                     train_overrides=train_overrides, ensembles=ensembles)
    return grid.run(jobs, ray=ray, cpus=cpus, gpus=gpus, progress=progress)


def grid_jobs(
    root: str | Path,
    tasks: list[str] | None = None,
    models: list[str] | None = None,
    seeds: list[int] | None = None,
    *,
    time_budget: float | None = 600.0,
    sequences: int | None = None,
    train_overrides: dict[str, Any] | None = None,
    ensembles: bool = False,
) -> list[grid.Job]:
    """The jobs :func:`reproduce` runs, in order: a job per cell, or with ``ensembles`` one per
    task and model (bar :data:`LONE_MODELS`, and cells that began the other way)."""
    jobs = []
    for task in tasks or _tasks.names():
        for model in models or list(paper.MODELS):
            cells = [cell_job(root, task, model, seed, time_budget=time_budget, sequences=sequences,
                              train_overrides=train_overrides) for seed in seeds or [0]]
            if len(cells) > 1 and _as_ensemble(cells, model, ensembles):
                jobs.append(grid.Job([c.configs[0] for c in cells], [c.dirs[0] for c in cells]))
            else:
                jobs.extend(cells)
    return jobs


# Models whose seeds ``reproduce(ensembles=True)`` still trains one at a time.  The LSTM
# baseline's matrix products are large already: three copy seeds vmapped into one program trained
# 40 sequences/s in all at batch 8 and 99 at batch 32, against 80 and 108 for one seed alone.
LONE_MODELS = frozenset({"lstm"})


def _as_ensemble(cells: list[grid.Job], model: str, ensembles: bool) -> bool:
    """Whether the seeds of one task and model train as one ensemble: where asked for and the model
    gains from it, unless a cell has started already, as a lone run or as an ensemble's member
    (it resumes the way it began)."""
    from ntm import runs

    for job in cells:
        run = runs.Run(job.dirs[0])
        if run.exists():
            return "ensemble" in run.config
    return ensembles and model not in LONE_MODELS


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
