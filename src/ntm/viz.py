"""Pictures: learning curves, generalisation curves, and memory access as the paper draws it.

Each ``*_figure`` function draws a picture and returns its matplotlib ``Figure`` (to show in a
notebook, or to inspect); each ``plot_*`` function draws the same picture, writes it as a PNG and
returns the path.  Figures are built on matplotlib's Agg canvas directly, never through pyplot, so
importing this module changes no global backend or state (it is safe in a notebook and on a machine
without a display).

Legend: T time, I input channels, O output channels, R read heads, W write heads, N memory rows,
M row width.
"""

from __future__ import annotations

import dataclasses
import json
import math
import textwrap
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ntm import runs as _runs

__all__ = [
    "run_labels",
    "learning_curves_figure",
    "plot_learning_curves",
    "generalisation_figure",
    "plot_generalisation",
    "memory_access_figure",
    "plot_memory_access",
]

# Settings that distinguish runs in a legend; bookkeeping fields (budget, logging) never do.
_NOT_LABELS = {"sequences", "time_budget", "target_cost", "eval_every", "eval_batch", "steps_per_call", "max_skipped"}
_SHORT = {"learning_rate": "lr", "batch_size": "batch", "controller_size": "ctrl", "memory_rows": "N", "memory_width": "M"}

# A legend of at most this many labels of at most this many characters fits inside the axes;
# a bigger one goes outside, to the right, with its labels wrapped at the same width.
_INSIDE_LABELS, _LABEL_CHARS = 4, 32


def _figure(width: float, height: float, layout: str | None = None):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, out_path: str | Path) -> Path:
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", bbox_inches="tight")
    return out


def _settings(run_dir: Path) -> dict[str, Any]:
    """A run's settings as a flat dict (training settings, task fields, then model fields), for labels."""
    run = _runs.Run(run_dir)
    config = run.config
    train = config.get("train") or {**config["fit"], "preset": "-"}  # (a run made by fit from Python)
    flat: dict[str, Any] = {k: v for k, v in train.items() if k not in ("task_args", "model_args")}
    flat.update(task=run.task_name, model=run.model_name, seed=run.seed)
    flat.update({f"task.{k}": v for k, v in config["task"].get("args", {}).items()})
    flat.update({k: v for k, v in config["model"].items() if k != "kind"})
    return flat


def _setting_text(key: str, value: Any) -> str:
    name = _SHORT.get(key, key)
    if key == "curriculum":
        return f"curriculum to {value[-1]['until']:,}" if value else "no curriculum"
    if key == "lr_schedule":
        return " ".join(f"then lr={e['learning_rate']:g} from {e['from']:,}" for e in value) or "no lr schedule"
    if isinstance(value, float):
        return f"{name}={value:g}"
    return f"{name}={value}"


def run_labels(run_dirs: Sequence[str | Path]) -> list[str]:
    """Short legend labels from the runs' configs: the model (and the task and preset, where they
    differ), plus the settings that differ among runs of the same task, model and preset.

    Runs of different models are not compared setting by setting: the model's name says what
    differs (an LSTM has no memory size, and each model and preset has its own learning rate).

    >>> run_labels(["runs/copy-ntm-ff-seed0", "runs/copy-lstm-seed0"])   # doctest: +SKIP
    ['ntm-ff', 'lstm']
    >>> run_labels(["runs/a", "runs/b"])   # one model, two learning rates   # doctest: +SKIP
    ['ntm-ff lr=0.003', 'ntm-ff lr=0.0001']

    Raises:
        RunError: a directory is not a run.
    """
    dirs = [Path(d) for d in run_dirs]
    settings = [_settings(d) for d in dirs]
    show_task = len({s["task"] for s in settings}) > 1 or len(settings) == 1
    show_preset = len({s["preset"] for s in settings}) > 1
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, s in enumerate(settings):
        groups.setdefault((s["task"], s["model"], s["preset"]), []).append(i)
    labels = [""] * len(settings)
    for members in groups.values():
        group = [settings[i] for i in members]
        keys = dict.fromkeys(k for s in group for k in s if k not in _NOT_LABELS | {"task", "model", "preset"})
        differing = [k for k in keys if len({json.dumps(s.get(k), sort_keys=True) for s in group}) > 1]
        for i, s in zip(members, group):
            parts = ([s["task"]] if show_task else []) + [s["model"]]
            parts += [f"preset={s['preset']}"] if show_preset else []
            labels[i] = " ".join(parts + [_setting_text(k, s.get(k)) for k in differing])
    if len(set(labels)) < len(labels):  # identical settings: tell them apart by directory
        labels = [f"{label} ({d.name})" for label, d in zip(labels, dirs)]
    return labels


def _legend(fig, ax, fontsize: float = 8):
    """The legend of ``ax``'s lines: inside the axes, where it hides the least data, if it is small;
    else outside, right of the axes (the figure's constrained layout shrinks them to make room).
    Either way it never covers an axis label or the title."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    if len(labels) <= _INSIDE_LABELS and max(len(label) for label in labels) <= _LABEL_CHARS:
        return ax.legend(fontsize=fontsize, loc="best")
    wrapped = [textwrap.fill(label, _LABEL_CHARS, subsequent_indent="  ") for label in labels]
    return fig.legend(handles, wrapped, fontsize=fontsize, loc="outside right upper")


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over ``window`` points (fewer at the ends), ignoring NaN (log rows
    whose every update was skipped).  Centred, so the curve does not lag behind the data."""
    window = min(window, y.size)  # (convolve's "same" output is as long as the longer input)
    if window <= 1:
        return y
    ok = np.isfinite(y)
    kernel = np.ones(window)
    total = np.convolve(np.where(ok, y, 0.0), kernel, mode="same")
    count = np.convolve(ok.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def learning_curves_figure(
    run_dirs: Sequence[str | Path],
    *,
    labels: Sequence[str] | None = None,
    smooth: int = 5,
    log_y: bool = False,
    reference: tuple[float, str] | None = None,
):
    """The figure :func:`plot_learning_curves` writes, as a matplotlib ``Figure``."""
    dirs = [Path(d) for d in run_dirs]
    if not dirs:
        raise ValueError("plot_learning_curves: no run directories given")
    labels = list(labels) if labels is not None else run_labels(dirs)
    opened = [_runs.Run(d) for d in dirs]
    tasks = sorted({r.task_name for r in opened})
    fig = _figure(8, 4.5, layout="constrained")
    ax = fig.add_subplot()
    crosses = []  # (x, reference, color) per run whose task has a reference cost
    for i, (run, label) in enumerate(zip(opened, labels)):
        rows = run.metrics()
        color = f"C{i % 10}"
        x = np.array([r["sequences"] for r in rows]) / 1000.0
        y = np.array([r["cost_bits"] for r in rows])
        ev = np.array([r["eval_cost_bits"] for r in rows])
        ref = np.array([r["eval_reference_bits"] for r in rows])
        curriculum = run.curriculum
        if curriculum:
            end = curriculum[-1]["until"] / 1000.0
            y = np.where(x > end, y, np.nan)
            ax.axvline(end, color=color, linestyle=":", linewidth=1)
            note = f"curriculum to {curriculum[-1]['until']:,}"
            label = label if note in label else f"{label}; {note}"  # (run_labels may have said it)
        ax.plot(x, y, color=color, alpha=0.25, linewidth=0.8)
        marker = "." if len(x) < 3 else None  # a line needs two points
        ax.plot(x, _smooth(y, smooth), color=color, linewidth=1.8, marker=marker, label=label)
        has_eval = np.isfinite(ev)
        if has_eval.any():
            ax.plot(x[has_eval], ev[has_eval], "o", color=color, markersize=3.5)
        has_ref = has_eval & np.isfinite(ref)
        if has_ref.any():
            crosses.append((x[has_ref], ref[has_ref], color))
    # The task's reference on each evaluation's own sequences (n-grams: the optimum), after the
    # runs so that the legend lists it last, once.
    what = "optimum" if tasks == ["dynamic_ngrams"] else "reference"
    for j, (xs, refs, color) in enumerate(crosses):
        ax.plot(xs, refs, "x", color=color, markersize=3.5, alpha=0.6,
                label=f"x: {what}, same sequences" if j == 0 else None)
    if reference is not None:
        ax.axhline(reference[0], color="k", linestyle="--", linewidth=1, label=reference[1])
    ax.set_xlabel("sequences seen (thousands)")
    ax.set_ylabel("cost per sequence (bits)")
    if log_y:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    # Two lines, so that a long task name never runs into a legend beside the axes.
    ax.set_title(f"learning curves: {', '.join(tasks)}\n(lines: training, smoothed; dots: evaluation)", fontsize=10)
    ax.grid(alpha=0.3)
    _legend(fig, ax)
    return fig


def plot_learning_curves(
    run_dirs: Sequence[str | Path],
    out_path: str | Path,
    *,
    labels: Sequence[str] | None = None,
    smooth: int = 5,
    log_y: bool = False,
    reference: tuple[float, str] | None = None,
) -> Path:
    """Cost per sequence (bits) against sequences seen, one line per run, as the paper plots them.

    The training cost (from each run's ``metrics.csv``) is drawn faintly as logged and boldly as a
    centred moving average over ``smooth`` log rows; evaluation costs are dots, and where the task
    has a reference cost (dynamic n-grams: the Bayes optimum), its value on each evaluation's own
    sequences is a cross below the dot.  For a run with a
    curriculum, the training cost of its easier stages is not comparable, so its line starts where
    the curriculum ends (a dotted vertical line); its evaluation dots, always on the task itself,
    are drawn throughout.

    Args:
        run_dirs: run directories (``ntm train --out``).
        out_path: the PNG to write.
        labels: legend labels; default :func:`run_labels`.
        smooth: moving-average window in log rows (1: none).
        log_y: logarithmic cost axis (useful once costs approach zero).
        reference: ``(cost, label)`` drawn as a dashed horizontal line, e.g. the Bayes-optimal
            cost of dynamic n-grams.

    Raises:
        RunError: a directory is not a run, or its log is missing or corrupt.
    """
    fig = learning_curves_figure(run_dirs, labels=labels, smooth=smooth, log_y=log_y, reference=reference)
    return _save(fig, out_path)


def generalisation_figure(
    records_by_label: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    log_y: bool = False,
    xlabel: str = "sequence length",
):
    """The figure :func:`plot_generalisation` writes, as a matplotlib ``Figure``."""
    fig = _figure(11, 4.2, layout="constrained")
    ax_cost, ax_err = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    i = 0
    for label, records in records_by_label.items():
        groups: dict[Any, list[Mapping[str, Any]]] = {}
        for r in records:
            if isinstance(r.get("length"), int) and not isinstance(r.get("repeats"), list):
                groups.setdefault(r.get("repeats"), []).append(r)
        for repeats, rs in groups.items():
            rs = sorted(rs, key=lambda r: r["length"])
            x = [r["length"] for r in rs]
            name = label if repeats is None else f"{label}, repeats {repeats}"
            color = f"C{i % 10}"
            ax_cost.plot(x, [r["cost_bits"] for r in rs], "o-", color=color, label=name)
            ax_err.plot(x, [r["bit_error_rate"] for r in rs], "o-", color=color, label=name)
            i += 1
    ax_cost.set_ylabel("cost per sequence (bits)")
    ax_err.set_ylabel("bit-error rate (wrong bits / scored bits)")
    for ax in (ax_cost, ax_err):
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    if log_y:
        ax_cost.set_yscale("log")
    else:
        ax_cost.set_ylim(bottom=0)
    ax_err.set_ylim(bottom=0)
    _legend(fig, ax_cost)
    fig.suptitle("generalisation to other sizes", fontsize=11)
    return fig


def plot_generalisation(
    records_by_label: Mapping[str, Sequence[Mapping[str, Any]]],
    out_path: str | Path,
    *,
    log_y: bool = False,
    xlabel: str = "sequence length",
) -> Path:
    """Cost per sequence and bit-error rate against the test size, one line per run (and per
    repeat count, for repeat copy).

    Args:
        records_by_label: ``{label: records}`` with records from :func:`ntm.evaluate.sweep`
            (``length``, ``cost_bits``, ``bit_error_rate``, optionally ``repeats``).  Records
            whose size is a range (the training-range reference) are left out: they have no x.
        out_path: the PNG to write.
        log_y: logarithmic cost axis.
        xlabel: what the size is (e.g. "items" for associative recall).
    """
    return _save(generalisation_figure(records_by_label, log_y=log_y, xlabel=xlabel), out_path)


# Memory access --------------------------------------------------------------------------------

# A weighting below this is indistinguishable from black in the picture, so a row no head ever
# weights more is left out of the weighting panels (with a margin of a few rows around the rest).
_USED_WEIGHT, _ROW_MARGIN = 0.05, 2
_MAX_COLUMNS = 4  # heads of one kind side by side, in rows of at most this many panels
_MAX_HEIGHT = 22.0  # inches (at 100 dpi): a figure of many heads stays within a page and a screen
_GAP, _TOP, _BOTTOM, _LEFT, _RIGHT = 0.42, 0.6, 0.5, 0.85, 0.6  # inches around and between panels


@dataclasses.dataclass
class _Section:
    """Panels drawn alike: one per head (in a grid), or one full-width panel of the sequence."""

    titles: list[str]
    images: list[np.ndarray]  # each [rows, T]
    cmap: Any
    vrange: tuple[float, float] | None
    height: float  # inches per panel
    ylabel: str
    first_row: int = 0  # the number of the images' first row (weightings cropped to the rows used)
    num_rows: int | None = None  # weightings only: memory rows, to number the rows drawn past the end
    full_width: bool = False

    @property
    def weighting(self) -> bool:  # (weighting panels are shortened to keep a figure of many heads in bounds)
        return self.num_rows is not None


def used_rows(weightings: np.ndarray) -> tuple[int, int]:
    """First and last memory row to draw, ``lo <= hi``: those some head weights visibly, with a
    margin.  Head shifts wrap round the end of memory, so the rows drawn may too: then ``lo`` is
    negative, and row ``r < 0`` stands for row ``N + r``."""
    num_rows = weightings.shape[-1]
    used = np.nonzero((weightings.reshape(-1, num_rows) > _USED_WEIGHT).any(axis=0))[0]
    if used.size == 0:
        return 0, num_rows - 1
    gaps = np.diff(np.append(used, used[0] + num_rows)) - 1  # unused rows after each used one, circularly
    k = int(np.argmax(gaps))  # the widest gap is left out; the rows on either side of it bound the rest
    lo, hi = int(used[(k + 1) % used.size]), int(used[k])
    if lo > hi:
        lo -= num_rows
    if lo < 0:
        lo, hi = lo - _ROW_MARGIN, hi + _ROW_MARGIN
    else:  # (not past the ends when the rows used do not wrap: the picture then starts at row 0)
        lo, hi = max(lo - _ROW_MARGIN, 0), min(hi + _ROW_MARGIN, num_rows - 1)
    return (lo, hi) if hi - lo + 1 < num_rows else (0, num_rows - 1)


def _rows_text(lo: int, hi: int, num_rows: int) -> str:
    if hi - lo + 1 == num_rows:
        return "memory row"
    rows = f"{lo}-{hi}" if lo >= 0 else f"{num_rows + lo}-{num_rows - 1},\n0-{hi}"  # (lines fit a short panel)
    return f"memory row\n(rows {rows} of {num_rows})"


def _row_locator(span: int, num_rows: int):
    """Ticks for ``span`` memory rows: every ``d`` rows, ``d`` a divisor of N, so that the rows
    past the end of memory (numbered modulo N) have round numbers too; at most six ticks."""
    from matplotlib.ticker import MaxNLocator, MultipleLocator

    step = next(d for d in range(1, num_rows + 1) if num_rows % d == 0 and span / d <= 6)
    if step == num_rows and span > 6:  # (N prime: no divisor fits)
        return MaxNLocator("auto", integer=True, min_n_ticks=1)
    return MultipleLocator(step)


def _memory_sections(inputs, targets, outputs, trace, mask) -> list[_Section]:
    from matplotlib import colormaps

    add = np.asarray(trace.add)  # [T, W, M]
    reads = np.asarray(trace.reads)  # [T, R, M]
    write_w = np.asarray(trace.write_w)  # [T, W, N]
    read_w = np.asarray(trace.read_w)  # [T, R, N]
    if np.ndim(inputs) != 2 or add.ndim != 3:
        raise ValueError(
            f"plot_memory_access draws one sequence: inputs [T, I] and trace fields [T, H, ...]; "
            f"got inputs {np.shape(inputs)}, add {add.shape}"
        )
    targets, outputs = np.asarray(targets, float), np.asarray(outputs, float)
    suffix = ""
    if mask is not None and not np.all(np.asarray(mask) > 0):
        # Unscored steps are blank in both panels, so outputs are read against the targets they are scored on.
        scored = (np.asarray(mask) > 0)[:, None]
        targets, outputs = np.where(scored, targets, np.nan), np.where(scored, outputs, np.nan)
        suffix = " (scored steps)"
    viridis = colormaps["viridis"].with_extremes(bad="white")
    seq = dict(cmap=viridis, height=0.75, ylabel="channel", full_width=True)
    sections = [
        _Section(["inputs"], [np.asarray(inputs).T], vrange=None, **seq),
        _Section(["targets" + suffix], [targets.T], vrange=(0.0, 1.0), **seq),
        _Section(["outputs" + suffix], [outputs.T], vrange=(0.0, 1.0), **seq),
    ]
    lo, hi = used_rows(np.concatenate([write_w, read_w], axis=1))
    num_rows = write_w.shape[-1]
    weight_height = max(1.2, 0.6 + (hi - lo + 1) / 40.0)  # taller for more rows; room for the label
    lim = max(float(np.abs(reads).max()), 1e-6)
    rows = np.arange(lo, hi + 1) % num_rows
    # Adds, then reads, then write and read weightings, as in the paper's figures.
    for kind, what, values, vrange in (("write", "adds", add, (-1.0, 1.0)), ("read", "reads", reads, (-lim, lim))):
        titles = [_head_title(what, kind, h, values.shape[1]) for h in range(values.shape[1])]
        images = [values[:, h].T for h in range(values.shape[1])]
        sections.append(_Section(titles, images, "RdBu_r", vrange, 0.75, "element"))
    for kind, weights in (("write", write_w), ("read", read_w)):
        titles = [_head_title(f"{kind} weighting", kind, h, weights.shape[1]) for h in range(weights.shape[1])]
        images = [weights[:, h][:, rows].T for h in range(weights.shape[1])]
        sections.append(_Section(titles, images, "gray", (0.0, 1.0), weight_height, _rows_text(lo, hi, num_rows),
                                 first_row=lo, num_rows=num_rows))
    return sections


def _head_title(what: str, kind: str, head: int, heads: int) -> str:
    return f"{what} ({kind} head {head})" if heads > 1 else what


def memory_access_figure(
    inputs: np.ndarray,
    targets: np.ndarray,
    outputs: np.ndarray,
    trace: Any,
    title: str = "",
    *,
    mask: np.ndarray | None = None,
):
    """The figure :func:`plot_memory_access` writes, as a matplotlib ``Figure``."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    sections = _memory_sections(inputs, targets, outputs, trace, mask)
    num_steps = np.shape(inputs)[0]
    heads = max(len(s.images) for s in sections)
    ncol = math.ceil(heads / math.ceil(heads / _MAX_COLUMNS))  # as even as can be: 5 heads are 3 + 2
    grid_rows = [1 if s.full_width else math.ceil(len(s.images) / ncol) for s in sections]
    row_sections = [s for s, n in zip(sections, grid_rows) for _ in range(n)]  # one per grid row
    top = _TOP if title else _TOP / 2
    margins = _GAP * (len(row_sections) - 1) + top + _BOTTOM
    fixed = margins + sum(s.height for s in row_sections if not s.weighting)
    weights = sum(s.height for s in row_sections if s.weighting)
    shrink = min(1.0, max(_MAX_HEIGHT - fixed, 0.0) / weights)  # many heads: shorter weighting panels
    heights = [s.height * shrink if s.weighting else s.height for s in row_sections]
    height = margins + sum(heights)
    width = min(max(6.0, ncol * max(2.6, 0.05 * num_steps + 0.8) + _LEFT + _RIGHT), 18.0)
    panel = (width - _LEFT - _RIGHT - 0.12 - 0.1 * ncol) / ncol  # 0.12 in: colour bars; 0.1 in: gaps
    mean_width = (ncol * panel + 0.12) / (ncol + 1)

    fig = _figure(width, height)
    grid = fig.add_gridspec(
        len(heights), ncol + 1, height_ratios=heights, width_ratios=[panel] * ncol + [0.12],
        hspace=_GAP / np.mean(heights), wspace=0.1 / mean_width,
        left=_LEFT / width, right=1 - _RIGHT / width, top=1 - top / height, bottom=_BOTTOM / height,
    )
    first_x = None
    placed: dict[tuple[int, int], Any] = {}  # (grid row, column) -> axes
    row = 0
    for section, nrows in zip(sections, grid_rows):
        vmin, vmax = section.vrange if section.vrange is not None else (None, None)
        first_y = None
        for k, (name, image) in enumerate(zip(section.titles, section.images)):
            r, c = (row, 0) if section.full_width else (row + k // ncol, k % ncol)
            ax = fig.add_subplot(grid[r, :ncol] if section.full_width else grid[r, c], sharex=first_x, sharey=first_y)
            first_x, first_y = first_x or ax, first_y or ax
            placed[r, c] = ax
            extent = (-0.5, num_steps - 0.5, section.first_row + image.shape[0] - 0.5, section.first_row - 0.5)
            im = ax.imshow(image, aspect="auto", interpolation="nearest", cmap=section.cmap, vmin=vmin, vmax=vmax,
                           extent=extent)
            ax.set_title(name, fontsize=9, loc="left")
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_major_locator(MaxNLocator("auto", integer=True, min_n_ticks=1))  # steps, channels, rows: whole
            if section.weighting:
                ax.yaxis.set_major_locator(_row_locator(image.shape[0], section.num_rows))
                ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _, n=section.num_rows: f"{round(y) % n}"))
            ax.tick_params(labelsize=7)
            if c == 0:
                ax.set_ylabel(section.ylabel, fontsize=8)
            else:
                ax.tick_params(labelleft=False)
        bar = fig.colorbar(im, cax=fig.add_subplot(grid[row:row + nrows, ncol]))
        bar.ax.yaxis.set_major_locator(MaxNLocator(3, steps=[1, 2.5, 5, 10]))
        bar.ax.tick_params(labelsize=7)
        row += nrows
    for (r, c), ax in placed.items():
        if (r + 1, c) in placed:  # time is labelled under the lowest panel of each column
            ax.tick_params(labelbottom=False)
        else:
            ax.set_xlabel("time step", fontsize=8)
    first_x.set_xlim(-0.5, num_steps - 0.5)
    if title:
        fig.suptitle(title, fontsize=11, y=1 - 0.15 / height)
    return fig


def plot_memory_access(
    inputs: np.ndarray,
    targets: np.ndarray,
    outputs: np.ndarray,
    trace: Any,
    out_path: str | Path,
    title: str = "",
    *,
    mask: np.ndarray | None = None,
) -> Path:
    """One sequence's memory use, as the paper's figures draw it: time runs left to right.

    Panels, all sharing the time axis: inputs, targets, outputs; each write head's add vectors;
    each read head's read vectors; each write head's and each read head's weighting over memory
    rows (row down the page).  Heads of one kind are side by side, at most four to a row.  The
    weighting panels show only the rows some head uses (the axis label says which).

    Args:
        inputs: ``[T, I]``; targets: ``[T, O]``; outputs: ``[T, O]`` probabilities.
        trace: an :class:`ntm.NTMTrace` of one sequence (fields ``[T, ...]`` with no batch axis:
            ``add [T, W, M]``, ``reads [T, R, M]``, ``write_w [T, W, N]``, ``read_w [T, R, N]``),
            e.g. ``ntm.evaluate.sample_trace(...).trace``.
        out_path: the PNG to write.
        title: figure title.
        mask: ``[T]``, 1 on the scored steps (``SequenceTrace.mask``); targets and outputs are
            drawn on those steps only.  None: on every step.
    """
    return _save(memory_access_figure(inputs, targets, outputs, trace, title, mask=mask), out_path)
