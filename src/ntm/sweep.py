"""Sweeps: one task trained at every combination of some settings, over seeds; a table and a plot.

    ntm sweep copy --lr 1e-4,3e-4,1e-3 --seeds 0-4 --sequences 20000 --out sweeps/copy-lr
    ntm sweep copy --set model.controller_size=50,100 --batch-size 1,8 --ray

Each combination of values is a *setting*; each setting trains one run per seed, the seeds of a
setting together as an ensemble (one compiled program, :func:`ntm.training.train_ensemble`), each
in its own run directory ``OUT/<setting>-seed<S>`` (so ``ntm eval``, ``plot``, ``show`` and
``--resume`` work on any of them).  The grid runs here or on Ray (:func:`ntm.grid.run`) and, as
``ntm reproduce``, continues where it stopped when run again.  When it has finished,
``OUT/sweep.md`` holds the table (per setting: how many seeds solved, the sequences they took,
the evaluation costs) and ``OUT/sweep.png`` the plot.

A swept field is a :class:`~ntm.training.TrainConfig` field (``learning_rate``, ``batch_size``,
``optimizer``, ``clip``, ``grad_clip``, ``model``, ``preset``, ...), a model field as
``model.FIELD`` (``model.controller_size``, ``model.memory_rows``, ...) or a task field as
``task.FIELD``.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import statistics
from pathlib import Path
from typing import Any, Sequence

from ntm import checkpoint, grid
from ntm import tasks as _tasks
from ntm import training as _training

__all__ = ["settings", "setting_name", "sweep_jobs", "sweep", "summary_table", "plot", "figure", "parse_values"]

_FIELDS = {f.name for f in dataclasses.fields(_training.TrainConfig)} - {"task", "task_args", "model_args", "seed"}


def parse_values(text: str) -> list[Any]:
    """``"1e-4,3e-4"`` -> ``[0.0001, 0.0003]``: comma-separated JSON values (``[1,4],[1,8]`` gives two
    lists), bare words as strings (``adam,rmsprop``)."""
    try:
        out = json.loads(f"[{text}]")
    except json.JSONDecodeError:
        out = [part.strip() for part in text.split(",")]
        out = [json.loads(p) if _is_json(p) else p for p in out]
    if not out or any(v == "" for v in out):
        raise ValueError(f"expected comma-separated values, got {text!r}")
    return out


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _check_field(name: str) -> None:
    kind, dot, rest = name.partition(".")
    if dot and kind in ("model", "task") and rest:
        return
    if name not in _FIELDS:
        raise ValueError(f"cannot sweep {name!r}: give a TrainConfig field ({', '.join(sorted(_FIELDS))}), "
                         "model.FIELD or task.FIELD")


def settings(values: dict[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the values, in order (the last field varies fastest)."""
    for name, vals in values.items():
        _check_field(name)
        if not vals:
            raise ValueError(f"{name}: no values to sweep")
        if len(set(map(repr, vals))) != len(vals):
            raise ValueError(f"{name}: a value is given twice")
    names = list(values)
    return [dict(zip(names, combo)) for combo in itertools.product(*(values[n] for n in names))]


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("/", "_").replace(" ", "")


def setting_name(setting: dict[str, Any]) -> str:
    """A directory-safe name: ``{"learning_rate": 3e-4, "batch_size": 1}`` -> ``learning_rate=0.0003-batch_size=1``
    (``base`` for no fields).  A sweep names its settings by the fields given more than one value."""
    return "-".join(f"{name.replace('model.', 'm.').replace('task.', 't.')}={_short(v)}"
                    for name, v in setting.items()) or "base"


def _config(task: str, setting: dict[str, Any], seed: int, base: dict[str, Any]) -> _training.TrainConfig:
    fields = {**base, "task": task, "seed": seed}
    model_args, task_args = dict(base.get("model_args", {})), dict(base.get("task_args", {}))
    for name, value in setting.items():
        kind, _, rest = name.partition(".")
        if kind == "model" and rest:
            model_args[rest] = value
        elif kind == "task" and rest:
            task_args[rest] = value
        else:
            fields[name] = value
    cfg = _training.TrainConfig(**{**fields, "model_args": model_args, "task_args": task_args})
    try:
        return cfg.resolved()
    except ValueError as exc:
        raise ValueError(f"setting {setting_name(setting)}: {exc}") from None


def sweep_jobs(root: str | Path, task: str, values: dict[str, Sequence[Any]], seeds: Sequence[int],
               **base: Any) -> list[grid.Job]:
    """One :class:`ntm.grid.Job` per setting: its seeds as an ensemble, under ``root``.

    ``base`` holds the :class:`~ntm.training.TrainConfig` fields every run shares (``sequences``,
    ``target_cost``, ...).  Every config is checked before anything is trained.
    """
    seeds = list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds: give distinct seeds, got {seeds!r}")
    task = _tasks.spec(_tasks.get(task))
    jobs = []
    varied = [k for k, v in values.items() if len(v) > 1]  # a field of one value is in every name otherwise
    for setting in settings(values):
        name = setting_name({k: setting[k] for k in varied})
        cfgs = [_config(task, setting, s, base) for s in seeds]
        jobs.append(grid.Job(cfgs, [Path(root) / f"{name}-seed{s}" for s in seeds], generalise=False,
                             extra={"setting": setting, "setting_name": name}))
    return jobs


def sweep(root: str | Path, task: str, values: dict[str, Sequence[Any]], seeds: Sequence[int], *,
          ray: bool | str = False, cpus: int = 1, gpus: float = 0, progress: bool = True,
          **base: Any) -> list[dict[str, Any]]:
    """Train every setting x seed (:func:`sweep_jobs`, :func:`ntm.grid.run`); write
    ``root/sweep.md`` and ``root/sweep.png``; return the runs' result records."""
    jobs = sweep_jobs(root, task, values, seeds, **base)
    records = grid.run(jobs, ray=ray, cpus=cpus, gpus=gpus, progress=progress)
    table = summary_table(records)
    checkpoint.atomic_write_text(Path(root) / "sweep.md", table + "\n")
    plot(records, Path(root) / "sweep.png")
    return records


def _groups(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        out.setdefault(r["setting_name"], []).append(r)
    return out


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def _costs(rs: list[dict[str, Any]]) -> str:
    costs = [r["eval_cost"] for r in rs if r["eval_cost"] is not None]
    return f"{_fmt(statistics.median(costs))} ({_fmt(max(costs))})" if costs else "-"


def summary_table(records: list[dict[str, Any]]) -> str:
    """Markdown: per setting, seeds solved, the sequences to solve (median, and each seed's; an
    unsolved seed, or every seed of a sweep without a target, shows its lowest evaluation cost and
    its sequences), the median and worst last evaluation cost, and the median wall seconds."""
    lines = [
        "| setting | solved | sequences to target: median (each seed) | eval cost, bits: median (worst) | wall s: median |",
        "|---|---|---|---|---|",
    ]
    for name, rs in _groups(records).items():
        rs = sorted(rs, key=lambda r: r["seed"])
        if rs[0].get("target_cost") is None:  # no target: nothing solves; each run's lowest cost
            each = ", ".join(f"({_fmt(r['best_cost'])} at {r['sequences']:,})" for r in rs)
            cost = _costs(rs)
            lines.append(f"| {name} | no target | - ({each}) | {cost} | "
                         f"{statistics.median(r['wall_time'] for r in rs):.0f} |")
            continue
        solved = [r for r in rs if r["solved"]]
        each = ", ".join(f"{r['sequences']:,}" if r["solved"] else f"({_fmt(r['best_cost'])} at {r['sequences']:,})"
                         for r in rs)
        med = f"{statistics.median(r['sequences'] for r in rs):,.0f}" if len(solved) == len(rs) else "-"
        cost = _costs(rs)
        wall = statistics.median(r["wall_time"] for r in rs)
        lines.append(f"| {name} | {len(solved)}/{len(rs)} | {med} ({each}) | {cost} | {wall:.0f} |")
    return "\n".join(lines)


def plot(records: list[dict[str, Any]], path: str | Path) -> Path:
    """Write :func:`figure` of the records to ``path`` (PNG)."""
    import matplotlib.pyplot as plt

    fig = figure(records)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def figure(records: list[dict[str, Any]]):
    """Two panels over the settings: each seed's last evaluation cost (log scale; the line joins
    the medians), and the sequences each solved seed took (an open marker at the budget for a seed
    that did not solve; in a sweep without a target, each seed's lowest evaluation cost).  A numeric field that alone varies becomes the x axis (log scale for a
    learning rate); otherwise the settings are listed in order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    groups = _groups(records)
    names = list(groups)
    swept = [k for k in groups[names[0]][0]["setting"]
             if len({repr(g[0]["setting"][k]) for g in groups.values()}) > 1]
    numeric = len(swept) == 1 and all(isinstance(g[0]["setting"][swept[0]], (int, float)) for g in groups.values())
    xs = [float(groups[n][0]["setting"][swept[0]]) for n in names] if numeric else list(range(len(names)))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True, constrained_layout=True)
    target = records[0].get("target_cost")
    med_cost, med_low = [], []
    for x, name in zip(xs, names):
        rs = groups[name]
        costs = [max(r["eval_cost"], 1e-6) for r in rs if r["eval_cost"] is not None]
        top.scatter([x] * len(costs), costs, color="C0", alpha=0.6, s=18)
        med_cost.append(np.median(costs) if costs else np.nan)
        if target is None:  # nothing solves: each seed's lowest evaluation cost instead
            lows = [max(r["best_cost"], 1e-6) for r in rs if r["best_cost"] is not None]
            bottom.scatter([x] * len(lows), lows, color="C1", alpha=0.7, s=18)
            med_low.append(np.median(lows) if lows else np.nan)
            continue
        solved = [r["sequences"] for r in rs if r["solved"]]
        unsolved = [r["sequences"] for r in rs if not r["solved"]]
        bottom.scatter([x] * len(solved), solved, color="C1", alpha=0.7, s=18)
        bottom.scatter([x] * len(unsolved), unsolved, facecolors="none", edgecolors="C3", s=30)
        med_low.append(np.median(solved) if len(solved) == len(rs) else np.nan)
    # (a marker on each median too, so that one setting alone shows its median)
    top.plot(xs, med_cost, color="C0", lw=1.5, marker="_", markersize=16, label="median")
    top.set_yscale("log")
    top.set_ylabel("last evaluation cost\n(bits per sequence)")
    if target is None:
        bottom.plot(xs, med_low, color="C1", lw=1.5, marker="_", markersize=16, label="median")
        bottom.set_yscale("log")
        bottom.set_ylabel("lowest evaluation cost\n(bits per sequence; no target)")
    else:
        top.axhline(target, color="grey", ls=":", lw=1)
        bottom.plot(xs, med_low, color="C1", lw=1.5, marker="_", markersize=16, label="median (every seed solved)")
        bottom.set_ylabel("sequences to target\n(open: not solved, at its budget)")
    if numeric:
        bottom.set_xlabel(swept[0])
        if swept[0] == "learning_rate" or (min(xs) > 0 and max(xs) / min(xs) >= 30):
            bottom.set_xscale("log")
    else:
        bottom.set_xticks(xs, names, rotation=30, ha="right", fontsize=8)
    settings = f"{len(names)} setting{'s' if len(names) != 1 else ''}"
    top.set_title(f"sweep: {records[0]['task']} ({len(records)} runs, {settings})")
    top.legend(loc="best", fontsize=8)
    bottom.legend(loc="best", fontsize=8)
    return fig
