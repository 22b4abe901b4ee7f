"""REPRODUCTION.md from a grid directory: the results of ``ntm reproduce``, beside the paper's.

    ntm reproduce --out experiments/reproduction --report REPRODUCTION.md

reads every cell (``TASK-MODEL-seedS``) under the grid directory, finished or still training,
and writes the report and its figures (``--figures``, default ``docs/reproduction`` beside the
report):

- per task, ``TASK-learning.png``: the evaluation cost against sequences seen, for every model on
  one axis, as the median over seeds with the range (lowest to highest seed) shaded, as the
  paper's figures plot the models side by side; ``TASK-generalisation.png``: the cost at the
  task's test sizes (median and range over the seeds that finished); ``TASK-memory.png``: the
  memory use of the best NTM (the lowest evaluation cost);
- the table of ours against the paper's: per task and model, the seeds, the recipe and where it
  deviates from the paper's, sequences and wall seconds, the cost (median and range), the paper's
  figure, the target, and a verdict (match, miss, or still training);
- generalisation tables, and ``notes.md`` from the grid directory, if there is one, verbatim
  (what the numbers cannot say: why a recipe was chosen, what was tried).

Nothing is trained: the report says what the grid holds now.  A cell without ``result.json`` is
still training (or was stopped before it finished); its figures are those of its last evaluation.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ntm import paper
from ntm.grid import RESULT_FILE
from ntm.runs import Run, RunError

__all__ = ["Cell", "PaperFigure", "PAPER_FIGURES", "TARGETS", "collect", "write_report", "summary_rows", "band"]

_CELL = re.compile(r"^(?P<task>[a-z_]+)-(?P<model>ntm-ff|ntm-lstm|lstm)-seed(?P<seed>\d+)$")


class PaperFigure(NamedTuple):
    """What the paper reports for one task and model (read off its figures, as text), and the
    number where the figure gives one (bits per sequence; n-grams: bits above the optimum)."""

    text: str
    bits: float | None = None


# Graves et al. (2014), figures 3, 7, 10, 13 and 16 (learning curves; ../docs: the paper's text).
PAPER_FIGURES: dict[tuple[str, str], PaperFigure] = {
    ("copy", "ntm-ff"): PaperFigure("near 0 (fig. 3)", 0.0),
    ("copy", "ntm-lstm"): PaperFigure("near 0 (fig. 3)", 0.0),
    ("copy", "lstm"): PaperFigure("learns, far more slowly than the NTMs (fig. 3)"),
    ("repeat_copy", "ntm-ff"): PaperFigure("near 0 (fig. 7)", 0.0),
    ("repeat_copy", "ntm-lstm"): PaperFigure("near 0 (fig. 7)", 0.0),
    ("repeat_copy", "lstm"): PaperFigure("learns, more slowly (fig. 7)"),
    ("associative_recall", "ntm-ff"): PaperFigure("near 0 within ~30,000 episodes (fig. 10)", 0.0),
    ("associative_recall", "ntm-lstm"): PaperFigure("near 0 (fig. 10)", 0.0),
    ("associative_recall", "lstm"): PaperFigure("learns far more slowly (fig. 10)"),
    ("dynamic_ngrams", "ntm-ff"): PaperFigure("about 1 bit above the optimum (fig. 13)", 1.0),
    ("dynamic_ngrams", "ntm-lstm"): PaperFigure("about 1 bit above the optimum (fig. 13)", 1.0),
    ("dynamic_ngrams", "lstm"): PaperFigure("about 3 bits above the optimum (fig. 13)", 3.0),
    ("priority_sort", "ntm-ff"): PaperFigure("18-20 bits after 10^6 sequences (fig. 16)", 20.0),
    ("priority_sort", "ntm-lstm"): PaperFigure("18-20 bits after 10^6 sequences (fig. 16)", 20.0),
    ("priority_sort", "lstm"): PaperFigure("about 58 bits after 10^6 sequences (fig. 16)", 58.0),
}

# The targets the grid is judged by, per task, for both NTMs: the cost (bits per sequence; n-grams:
# bits above the Bayes-optimal cost of the same sequences) the median seed must reach.  The LSTM
# baseline has no target: it is there to be compared with, trained for at least LSTM_SEQUENCES.
TARGETS: dict[str, float] = {
    "copy": 0.05, "repeat_copy": 0.05, "associative_recall": 0.05, "dynamic_ngrams": 1.0, "priority_sort": 20.0,
}
LSTM_SEQUENCES = 100_000

# The Bayes-optimal cost of a 200-bit dynamic n-gram sequence, estimated on 50,000 sequences with
# ntm.metrics.ngram_optimal_cost; used only for a cell that has no generalisation record yet.
NGRAM_OPTIMUM = 133.1


@dataclass
class Cell:
    """One (task, model, seed) run of the grid, finished or not."""

    path: Path
    task: str
    model: str
    seed: int
    config: dict[str, Any]
    evals: list[tuple[int, float]]  # (sequences, evaluation cost) of every evaluation
    sequences: int
    wall_time: float
    result: dict[str, Any] | None = None
    generalisation: list[dict[str, Any]] = field(default_factory=list)
    # The last evaluation's excess over the task's reference cost on the same batch, where the log
    # has one (dynamic n-grams: the Bayes optimum); None otherwise
    last_excess: float | None = None

    @property
    def finished(self) -> bool:
        return self.result is not None

    @property
    def last_eval(self) -> float | None:
        return self.evals[-1][1] if self.evals else None

    @property
    def best_eval(self) -> float | None:
        return min(c for _, c in self.evals) if self.evals else None

    @property
    def cost(self) -> float | None:
        """The figure a cell is judged by.  Tasks of one training size (dynamic n-grams, priority
        sort), once finished: the best checkpoint on fresh sequences of that size (its
        generalisation record), for n-grams as the excess over the optimum of the same sequences.
        Otherwise the cell's last evaluation (copy, repeat copy and recall stop at their first
        evaluation below the target); for n-grams its excess over the optimum of its own batch,
        or, for a log from before that was recorded, minus :data:`NGRAM_OPTIMUM`."""
        c = self.last_eval
        trained = self.config.get("task_args", {}).get("train_lengths")
        size = self._train_size()
        if size is not None and trained is None:
            for g in self.generalisation:
                if g.get("length") == size:
                    return g["cost_bits"] - g.get("optimal_cost_bits", 0.0)
        if c is not None and self.task == "dynamic_ngrams":
            return self.last_excess if self.last_excess is not None else c - NGRAM_OPTIMUM
        return c

    def _train_size(self) -> int | None:
        from ntm import tasks

        try:
            lo, hi = tasks.get(self.task).train_lengths
        except (ValueError, AttributeError):
            return None
        return hi if lo == hi else None

    @property
    def first_below(self) -> int | None:
        """Sequences to the first evaluation below the task's target (None: not reached)."""
        target = TARGETS.get(self.task)
        if target is None or self.task == "dynamic_ngrams":
            return None
        return next((s for s, c in self.evals if c < target), None)


def _train_config(config: dict[str, Any]) -> dict[str, Any]:
    """The run's TrainConfig as a dict, its preset's values filled in (optimizer, learning rate,
    batch); the fit section's figures for a run that was not trained from a TrainConfig."""
    from ntm.training import TrainConfig

    train = config.get("train")
    if train is None:
        fit = config.get("fit", {})
        return {"batch_size": fit.get("batch_size"), "curriculum": fit.get("curriculum", [])}
    try:
        return TrainConfig.from_dict(train).resolved().to_dict()
    except (TypeError, ValueError):
        return dict(train)


def _read_cell(path: Path) -> Cell | None:
    m = _CELL.match(path.name)
    if m is None:
        return None
    if not (path / "config.json").exists():
        return None  # a cell the grid has created but not started
    run = Run(path)
    try:
        config = _train_config(run.config)
    except RunError as exc:
        raise ValueError(f"grid cell {path}: {exc}") from None
    try:
        rows = run.metrics()
    except RunError:
        if (path / "metrics.csv").exists():
            raise ValueError(f"grid cell {path}: its training log cannot be read") from None
        rows = []  # created, not trained yet
    evaluated = [r for r in rows if not math.isnan(r["eval_cost_bits"])]
    evals = [(int(r["sequences"]), r["eval_cost_bits"]) for r in evaluated]
    last_excess = None
    if evaluated and not math.isnan(evaluated[-1]["eval_reference_bits"]):
        last_excess = evaluated[-1]["eval_cost_bits"] - evaluated[-1]["eval_reference_bits"]
    result = None
    if (path / RESULT_FILE).exists():
        result = json.loads((path / RESULT_FILE).read_text())
    return Cell(
        path=path, task=m["task"], model=m["model"], seed=int(m["seed"]), config=config,
        evals=evals, sequences=int(rows[-1]["sequences"]) if rows else 0,
        wall_time=float(rows[-1]["wall_time"]) if rows else 0.0, result=result,
        generalisation=(result or {}).get("generalisation") or [], last_excess=last_excess,
    )


def collect(grid_dir: str | Path) -> dict[tuple[str, str], list[Cell]]:
    """Every cell under ``grid_dir``, grouped by (task, model) in the paper's order, seeds in order."""
    cells = [c for p in sorted(Path(grid_dir).iterdir()) if p.is_dir() and (c := _read_cell(p)) is not None]
    order = {name: i for i, name in enumerate(TARGETS)}
    models = {name: i for i, name in enumerate(paper.MODELS)}
    groups: dict[tuple[str, str], list[Cell]] = {}
    for c in sorted(cells, key=lambda c: (order.get(c.task, len(order)), c.task, models[c.model], c.seed)):
        groups.setdefault((c.task, c.model), []).append(c)
    return groups


def band(cells: list[Cell], points: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The median, lowest and highest evaluation cost over ``cells`` against sequences seen.

    Each cell's cost at ``x`` is that of its last evaluation at or before ``x``; a cell counts from
    its first evaluation to its last, and past its last if it solved its task (it stopped because
    it had; its cost stays where it was).  Returns ``(x, median, low, high)``; NaN where no cell counts.
    """
    end = max((c.evals[-1][0] for c in cells if c.evals), default=0)
    x = np.unique(np.concatenate([np.array([s for s, _ in c.evals], float) for c in cells if c.evals] + [np.zeros(0)]))
    if len(x) > points:
        x = np.unique(np.concatenate([x[:: max(1, len(x) // points)], [end]]))
    values = np.full((len(cells), len(x)), np.nan)
    for i, c in enumerate(cells):
        if not c.evals:
            continue
        s = np.array([s for s, _ in c.evals], float)
        v = np.array([v for _, v in c.evals], float)
        idx = np.searchsorted(s, x, side="right") - 1
        solved = bool(c.result and c.result.get("solved"))
        ok = (idx >= 0) & ((x <= s[-1]) | solved)
        values[i, ok] = v[idx[ok]]
    with warnings.catch_warnings():  # (all-NaN columns, where no cell counts, are NaN by design)
        warnings.simplefilter("ignore", RuntimeWarning)
        return x, np.nanmedian(values, 0), np.nanmin(values, 0), np.nanmax(values, 0)


_LABELS = {"ntm-ff": "NTM-FF", "ntm-lstm": "NTM-LSTM", "lstm": "LSTM"}
_COLOURS = {"ntm-ff": "C0", "ntm-lstm": "C1", "lstm": "C2"}


def learning_figure(task: str, groups: dict[str, list[Cell]]):
    """Median and range over seeds of the evaluation cost against sequences, a line per model."""
    from ntm import viz

    fig = viz._figure(8, 4.5, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    ngrams = task == "dynamic_ngrams"
    for model, cells in groups.items():
        x, med, lo, hi = band(cells)
        if not len(x):
            continue
        colour = _COLOURS.get(model, "C3")
        ax.fill_between(x, lo, hi, color=colour, alpha=0.2, linewidth=0)
        ax.plot(x, med, color=colour, label=f"{_LABELS.get(model, model)} (median of {len(cells)} seeds; range shaded)")
    if ngrams:
        ax.axhline(NGRAM_OPTIMUM, color="k", linestyle="--", linewidth=1, label=f"Bayes-optimal (~{NGRAM_OPTIMUM} bits)")
    elif task in TARGETS:
        ax.axhline(TARGETS[task], color="k", linestyle=":", linewidth=1, label=f"target ({TARGETS[task]:g} bits)")
    if TARGETS.get(task, 0.0) < 1.0:  # costs that approach zero read best on a log axis
        ax.set_yscale("log")
    ax.set_xlabel("sequences seen")
    ax.set_ylabel("evaluation cost per sequence (bits)")
    ax.set_title(f"{task}: learning curves")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _test_sizes(groups: dict[str, list[Cell]]) -> list[str]:
    """The labels of every test size any cell's generalisation record has, in first-seen order."""
    return list(dict.fromkeys(g["label"] for cells in groups.values() for c in cells for g in c.generalisation))


def generalisation_figure(task: str, groups: dict[str, list[Cell]]):
    """Cost at each test size: median over the finished seeds, with their range as error bars."""
    from ntm import viz

    fig = viz._figure(8, 4.2, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    labels = _test_sizes(groups)
    pos = {lab: i for i, lab in enumerate(labels)}
    for k, (model, cells) in enumerate(groups.items()):
        by_label: dict[str, list[float]] = {}
        for c in cells:
            for g in c.generalisation:
                by_label.setdefault(g["label"], []).append(g["cost_bits"])
        if not by_label:
            continue
        xs = [pos[lab] + 0.1 * (k - 1) for lab in by_label]
        med = [float(np.median(v)) for v in by_label.values()]
        err = [[m - min(v) for m, v in zip(med, by_label.values())], [max(v) - m for m, v in zip(med, by_label.values())]]
        n = max(len(v) for v in by_label.values())
        ax.errorbar(xs, med, yerr=err, fmt="o-", capsize=3, color=_COLOURS.get(model, "C3"),
                    label=f"{_LABELS.get(model, model)} (median of {n} seeds; bars: range)")
    if task == "dynamic_ngrams":
        opt = [g.get("optimal_cost_bits") for cs in groups.values() for c in cs for g in c.generalisation]
        opt = [o for o in opt if o is not None]
        if opt:
            ax.axhline(float(np.median(opt)), color="k", linestyle="--", linewidth=1, label="Bayes-optimal, same sequences")
    else:
        ax.set_yscale("symlog", linthresh=0.01)
    ax.set_xticks(range(len(labels)), labels, rotation=20, fontsize=8)
    ax.set_ylabel("cost per sequence (bits)")
    ax.set_title(f"{task}: generalisation")
    ax.grid(alpha=0.3)
    if labels:
        ax.legend(fontsize=8)
    return fig


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def _median_range(values: list[float], digits: int = 3) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    med = _fmt(float(np.median(values)), digits)
    if min(values) == max(values):
        return med
    return f"{med} ({_fmt(min(values), digits)} to {_fmt(max(values), digits)})"


_PAPER_RECIPE = "centred RMSProp, batch 1, per-component clipping at 10"


def recipe(cell: Cell) -> str:
    """The recipe a cell trained with, in words, and where it deviates from the paper's."""
    c = cell.config
    opt = {"rmsprop": "centred RMSProp", "adam": "Adam"}.get(c.get("optimizer"), str(c.get("optimizer")))
    parts = [f"{opt} {c.get('learning_rate'):g}", f"batch {c.get('batch_size')}"]
    if c.get("clip", "value") == "norm":
        parts.append(f"norm clip {c.get('grad_clip'):g}")
    if c.get("lr_schedule"):
        parts.append(", ".join(f"lr {e['learning_rate']:g} from {e['from']:,}" for e in c["lr_schedule"]))
    if c.get("curriculum"):
        parts.append(f"curriculum of {len(c['curriculum'])} stages")
    margs = c.get("model_args") or {}
    if margs.get("memory_init") not in (None, "constant"):
        std = margs.get("memory_init_std")
        parts.append(f"{margs['memory_init']} memory" + (f" N(0, {std:g}^2)" if std else ""))
    if margs.get("weighting_init") == "random":
        parts.append("random initial weightings")
    return ", ".join(parts)


def deviations(cell: Cell) -> list[str]:
    """How a cell's recipe differs from the paper's (its tables' learning rate, centred RMSProp, batch 1)."""
    c = cell.config
    out = []
    preset = paper.PAPER.get((cell.task, cell.model))
    if c.get("optimizer") != "rmsprop":
        out.append(f"optimiser {c.get('optimizer')}")
    if preset is not None and c.get("learning_rate") != preset.learning_rate:
        out.append(f"lr {c.get('learning_rate'):g} (paper {preset.learning_rate:g})")
    if c.get("batch_size") != 1:
        out.append(f"batch {c.get('batch_size')}")
    if c.get("clip", "value") != "value":
        out.append("global-norm clipping")
    if c.get("curriculum"):
        out.append("a curriculum")
    if c.get("lr_schedule"):
        out.append("a learning-rate schedule")
    margs = c.get("model_args") or {}
    if margs.get("memory_init") not in (None, "constant"):
        out.append(f"{margs['memory_init']} initial memory")
    return out


def verdict(task: str, model: str, cells: list[Cell]) -> str:
    """match / miss / still training, against the task's target (the median seed's cost); the LSTM:
    whether it had the sequences a fair comparison needs."""
    costs = [c.cost for c in cells if c.cost is not None]
    running = [c for c in cells if not c.finished]
    if not costs:
        return "not started"
    if model == "lstm":
        short = [c for c in cells if c.sequences < LSTM_SEQUENCES]
        enough = "" if not short else f"; {len(short)} of {len(cells)} seeds below {LSTM_SEQUENCES:,} sequences"
        return ("still training" if running else "baseline") + enough
    target = TARGETS.get(task)
    if target is None:
        return "no target"
    met = sum(c < target for c in costs)
    if float(np.median(costs)) < target or (task == "priority_sort" and float(np.median(costs)) <= target):
        return f"**match** ({met} of {len(cells)} seeds)"
    return ("still training" if running else "**miss**") + f" ({met} of {len(cells)} seeds at the target)"


def summary_rows(groups: dict[tuple[str, str], list[Cell]]) -> list[str]:
    """The results table, a row per task and model."""
    lines = [
        "| task | model | seeds (finished) | recipe | sequences: median (range) | wall s: median | "
        "cost, bits: median (range) | paper | target | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (task, model), cells in groups.items():
        recipes = sorted({recipe(c) for c in cells})
        pf = PAPER_FIGURES.get((task, model))
        target = "-" if model == "lstm" or task not in TARGETS else (
            f"within {TARGETS[task]:g} bit of the optimum" if task == "dynamic_ngrams" else
            (f"<= {TARGETS[task]:g}" if task == "priority_sort" else f"< {TARGETS[task]:g}"))
        cost_name = " above the optimum" if task == "dynamic_ngrams" else ""
        lines.append(
            f"| {task} | {_LABELS.get(model, model)} | {', '.join(str(c.seed) for c in cells)} "
            f"({sum(c.finished for c in cells)}) | {'; '.join(recipes)} | "
            f"{_median_range([c.sequences for c in cells])} | {_fmt(float(np.median([c.wall_time for c in cells])))} | "
            f"{_median_range([c.cost for c in cells])}{cost_name} | {pf.text if pf else '-'} | {target} | "
            f"{verdict(task, model, cells)} |"
        )
    return lines


def cell_rows(groups: dict[tuple[str, str], list[Cell]]) -> list[str]:
    """Every cell: its sequences, wall time and sequences per second (of an ensemble's member: the
    ensemble's wall time), last and lowest evaluation cost, first evaluation below the target, how
    it stopped, and its deviations from the paper's recipe."""
    lines = [
        "| cell | sequences | wall s | sequences/s | last eval cost | lowest eval cost | first eval below target | "
        "stopped | deviations from the paper's recipe |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for cells in groups.values():
        for c in cells:
            stop = c.result["stop_reason"] if c.result else "still training"
            first = "-" if c.first_below is None else f"{c.first_below:,}"
            lines.append(
                f"| {c.path.name} | {c.sequences:,} | {c.wall_time:.0f} | {c.sequences / max(c.wall_time, 1e-9):.0f} | "
                f"{_fmt(c.last_eval)} | {_fmt(c.best_eval)} | "
                f"{first} | {stop} | {', '.join(deviations(c)) or 'none'} |"
            )
    return lines


def generalisation_rows(task: str, groups: dict[str, list[Cell]]) -> list[str]:
    """Per model, the median over finished seeds of the cost and the bit-error rate at each test size."""
    labels = _test_sizes(groups)
    if not labels:
        return []
    lines = ["| model (seeds) | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for model, cells in groups.items():
        done = [c for c in cells if c.generalisation]
        if not done:
            continue
        row = []
        for lab in labels:
            gs = [g for c in done for g in c.generalisation if g["label"] == lab]
            if not gs:
                row.append("-")
                continue
            cost = float(np.median([g["cost_bits"] for g in gs]))
            err = float(np.median([g["bit_error_rate"] for g in gs]))
            text = f"{_fmt(cost)} / {100 * err:.1f}%"
            if task == "dynamic_ngrams" and all("optimal_cost_bits" in g for g in gs):
                text += f" (optimum {_fmt(float(np.median([g['optimal_cost_bits'] for g in gs])))})"
            row.append(text)
        lines.append(f"| {_LABELS.get(model, model)} ({len(done)}) | " + " | ".join(row) + " |")
    return lines


def _best_checkpoint_score(cell: Cell) -> float:
    """What a cell's best checkpoint was chosen by: its excess over the reference cost of its
    own batch where it has one (n-grams), else its evaluation cost."""
    try:
        info = Run(cell.path).checkpoint_info("best")
    except RunError:
        info = None
    if info is not None and info.eval_excess is not None:
        return info.eval_excess
    if cell.task == "dynamic_ngrams":
        return cell.best_eval - NGRAM_OPTIMUM
    return cell.best_eval


def _memory_picture(task: str, groups: dict[str, list[Cell]], out: Path) -> str | None:
    import jax

    from ntm import evaluate, viz

    ntms = [c for m, cs in groups.items() if m != "lstm" for c in cs if c.best_eval is not None]
    if not ntms:
        return None
    best = min(ntms, key=_best_checkpoint_score)
    try:
        model, info = Run(best.path).load_model("best")
    except (RunError, OSError, ValueError):
        return None
    seq = evaluate.sample_trace(model, Run(best.path).task(), None, key=jax.random.key(7))
    viz.plot_memory_access(seq.inputs, seq.targets, seq.outputs, seq.trace, out,
                           f"{task}, {best.model} seed {best.seed}, {info.describe()}: cost {seq.cost_bits:.3g} bits",
                           mask=seq.mask)
    return f"{best.model} seed {best.seed} ({info.describe()})"


def write_report(grid_dir: str | Path, report: str | Path, figures: str | Path | None = None,
                 *, memory: bool = True) -> Path:
    """Write the report of ``grid_dir`` to ``report`` and its figures to ``figures`` (default:
    ``docs/reproduction`` beside the report); returns the report's path.

    Raises:
        ValueError: ``grid_dir`` holds no cell.
    """
    from ntm import viz

    grid_dir, report = Path(grid_dir), Path(report)
    fig_dir = Path(figures) if figures is not None else report.parent / "docs" / "reproduction"
    groups = collect(grid_dir) if grid_dir.is_dir() else {}
    if not groups:
        raise ValueError(f"{grid_dir}: no grid cells (TASK-MODEL-seedS run directories) found")
    try:
        rel = fig_dir.resolve().relative_to(report.parent.resolve())
    except ValueError:
        rel = fig_dir.resolve()
    by_task: dict[str, dict[str, list[Cell]]] = {}
    for (task, model), cells in groups.items():
        by_task.setdefault(task, {})[model] = cells
    lines = [
        "# Reproducing the paper",
        "",
        f"Generated by `ntm reproduce --out {grid_dir.as_posix()} --report {report.name}` from the run directories "
        f"under `{grid_dir.as_posix()}`; every figure here is read from them. A cell still training shows its last "
        "evaluation; `ntm reproduce` with the same `--out` continues it.",
        "",
        "Costs are bits per sequence: on copy, repeat copy and recall, the cell's last evaluation (256 fresh "
        "sequences from the training range; these cells stop at their first evaluation below the target); on "
        "dynamic n-grams and priority sort, once a cell has finished, its best checkpoint on the fresh sequences "
        "of its generalisation test at the training size (n-grams: bits above the Bayes-optimal cost of the "
        "same sequences), and while it trains, its last evaluation. Wall seconds are a cell's training time; "
        "seeds trained as one ensemble share theirs. "
        "The paper's figures are read off its learning curves. Targets apply to both NTMs; the LSTM "
        f"baseline is there for comparison and needs at least {LSTM_SEQUENCES:,} sequences to be a fair one. "
        f"The paper's recipe is {_PAPER_RECIPE}, with its tables' learning rates; each cell's deviations "
        "are listed under \"Every cell\".",
        "",
        "## Results",
        "",
        *summary_rows(groups),
        "",
    ]
    matched = [f"{t} {_LABELS[m]}" for (t, m), cs in groups.items() if verdict(t, m, cs).startswith("**match")]
    missed = [f"{t} {_LABELS[m]}" for (t, m), cs in groups.items() if verdict(t, m, cs).startswith("**miss")]
    running = [f"{t} {_LABELS[m]}" for (t, m), cs in groups.items() if verdict(t, m, cs).startswith("still")]
    missing = [f"{t} {_LABELS[m]}" for t in TARGETS for m in paper.MODELS if (t, m) not in groups]
    lines += [
        f"- Matched: {', '.join(matched) or 'none'}.",
        f"- Missed: {', '.join(missed) or 'none'}.",
        f"- Still training: {', '.join(running) or 'none'}.",
        f"- Not in the grid yet: {', '.join(missing) or 'none'}.",
        "",
    ]
    notes = grid_dir / "notes.md"
    if notes.exists():
        lines += ["## Notes", "", notes.read_text().strip(), ""]
    for task, models in by_task.items():
        lines += [f"## {task}", ""]
        fig = learning_figure(task, models)
        viz._save(fig, fig_dir / f"{task}-learning.png")
        lines += [f"![{task} learning curves]({(rel / f'{task}-learning.png').as_posix()})", ""]
        gen = generalisation_rows(task, models)
        if gen:
            viz._save(generalisation_figure(task, models), fig_dir / f"{task}-generalisation.png")
            lines += ["Generalisation (cost in bits per sequence / bit-error rate; median over the finished seeds):", "",
                      *gen, "", f"![{task} generalisation]({(rel / f'{task}-generalisation.png').as_posix()})", ""]
        if memory:
            who = _memory_picture(task, models, fig_dir / f"{task}-memory.png")
            if who:
                lines += [f"Memory use of {who}:", "", f"![{task} memory]({(rel / f'{task}-memory.png').as_posix()})", ""]
    lines += ["## Every cell", "", *cell_rows(groups), ""]
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("\n".join(lines))
    return report
