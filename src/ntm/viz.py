"""Pictures: learning curves, generalisation curves, and memory access as the paper draws it.

Every function writes a PNG and returns its path.  Figures are built on matplotlib's Agg canvas
directly, never through pyplot, so importing this module changes no global backend or state (it is
safe in a notebook and on a machine without a display).

Legend: T time, I input channels, O output channels, R read heads, W write heads, N memory rows,
M row width.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ntm import train as _train

__all__ = ["run_labels", "plot_learning_curves", "plot_generalisation", "plot_memory_access"]

# Settings that distinguish runs in a legend; bookkeeping fields (budget, logging) never do.
_NOT_LABELS = {"sequences", "time_budget", "target_cost", "eval_every", "eval_batch", "steps_per_call", "max_skipped"}
_SHORT = {"learning_rate": "lr", "batch_size": "batch", "controller_size": "ctrl", "memory_rows": "N", "memory_width": "M"}


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, out_path: str | Path) -> Path:
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, format="png", bbox_inches="tight")
    return out


def _settings(run_dir: Path) -> dict[str, Any]:
    """A run's settings as a flat dict (train fields, then model fields), for labels."""
    cfg = _train.read_config(run_dir)
    flat: dict[str, Any] = {k: v for k, v in cfg.to_dict().items() if k not in ("task_args", "model_args")}
    flat.update({f"task.{k}": v for k, v in cfg.task_args.items()})
    flat.update(dataclasses.asdict(cfg.model_config()))
    return flat


def run_labels(run_dirs: Sequence[str | Path]) -> list[str]:
    """Legend labels from the runs' configs: task and model, plus whichever settings differ.

    >>> run_labels(["runs/a", "runs/b"])   # same task, two learning rates   # doctest: +SKIP
    ['ntm-ff lr=0.003', 'ntm-ff lr=0.0001']

    Raises:
        RunError: a directory is not a run.
    """
    dirs = [Path(d) for d in run_dirs]
    settings = [_settings(d) for d in dirs]
    tasks = {s["task"] for s in settings}
    keys = [k for k in settings[0] if k not in _NOT_LABELS | {"task", "model", "preset"}]
    keys += [k for s in settings[1:] for k in s if k not in keys and k not in _NOT_LABELS | {"task", "model", "preset"}]
    differing = [k for k in keys if len({json.dumps(s.get(k), sort_keys=True) for s in settings}) > 1]
    labels = []
    for s in settings:
        parts = [s["task"]] if len(tasks) > 1 or len(settings) == 1 else []
        parts.append(s["model"])
        if len({x["preset"] for x in settings}) > 1:
            parts.append(f"preset={s['preset']}")
        parts += [f"{_SHORT.get(k, k)}={s.get(k)}" for k in differing]
        labels.append(" ".join(parts))
    if len(set(labels)) < len(labels):  # identical settings: tell them apart by directory
        labels = [f"{label} ({d.name})" for label, d in zip(labels, dirs)]
    return labels


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
    centred moving average over ``smooth`` log rows; evaluation costs are dots.  For a run with a
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
    dirs = [Path(d) for d in run_dirs]
    if not dirs:
        raise ValueError("plot_learning_curves: no run directories given")
    labels = list(labels) if labels is not None else run_labels(dirs)
    configs = [_train.read_config(d) for d in dirs]
    tasks = sorted({c.task for c in configs})
    fig = _figure(8, 4.5)
    ax = fig.add_subplot()
    for i, (d, cfg, label) in enumerate(zip(dirs, configs, labels)):
        rows = _train.read_metrics(d)
        color = f"C{i % 10}"
        x = np.array([r["sequences"] for r in rows]) / 1000.0
        y = np.array([r["cost_bits"] for r in rows])
        ev = np.array([r["eval_cost_bits"] for r in rows])
        curriculum = cfg.curriculum
        if curriculum:
            end = curriculum[-1]["until"] / 1000.0
            y = np.where(x > end, y, np.nan)
            ax.axvline(end, color=color, linestyle=":", linewidth=1)
            label = f"{label}; curriculum to {curriculum[-1]['until']:,}"
        ax.plot(x, y, color=color, alpha=0.25, linewidth=0.8)
        marker = "." if len(x) < 3 else None  # a line needs two points
        ax.plot(x, _smooth(y, smooth), color=color, linewidth=1.8, marker=marker, label=label)
        has_eval = np.isfinite(ev)
        if has_eval.any():
            ax.plot(x[has_eval], ev[has_eval], "o", color=color, markersize=3.5)
    if reference is not None:
        ax.axhline(reference[0], color="k", linestyle="--", linewidth=1, label=reference[1])
    ax.set_xlabel("sequences seen (thousands)")
    ax.set_ylabel("cost per sequence (bits)")
    if log_y:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.set_title(f"learning curves: {', '.join(tasks)}  (lines: training, smoothed; dots: evaluation)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, out_path)


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
    fig = _figure(11, 4.2)
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
    if i:
        ax_cost.legend(fontsize=8)
    fig.suptitle("generalisation to other sizes", fontsize=11)
    return _save(fig, out_path)


def plot_memory_access(
    inputs: np.ndarray,
    targets: np.ndarray,
    outputs: np.ndarray,
    trace: Any,
    out_path: str | Path,
    title: str = "",
) -> Path:
    """One sequence's memory use, as the paper's figures draw it: time runs left to right.

    Panels, all sharing the time axis: inputs, targets, outputs; each write head's add vectors;
    each read head's read vectors; each write head's and each read head's weighting over memory
    locations (location down the page).

    Args:
        inputs: ``[T, I]``; targets: ``[T, O]``; outputs: ``[T, O]`` probabilities.
        trace: an :class:`ntm.NTMTrace` of one sequence (fields ``[T, ...]`` with no batch axis:
            ``add [T, W, M]``, ``reads [T, R, M]``, ``write_w [T, W, N]``, ``read_w [T, R, N]``),
            e.g. ``ntm.evaluate.sample_trace(...).trace``.
        out_path: the PNG to write.
        title: figure title.
    """
    add = np.asarray(trace.add)  # [T, W, M]
    reads = np.asarray(trace.reads)  # [T, R, M]
    write_w = np.asarray(trace.write_w)  # [T, W, N]
    read_w = np.asarray(trace.read_w)  # [T, R, N]
    if np.ndim(inputs) != 2 or add.ndim != 3:
        raise ValueError(
            f"plot_memory_access draws one sequence: inputs [T, I] and trace fields [T, H, ...]; "
            f"got inputs {np.shape(inputs)}, add {add.shape}"
        )
    num_steps = np.shape(inputs)[0]
    # (title, image [rows, T], colour map, value range, relative height)
    panels: list[tuple[str, np.ndarray, str, tuple[float, float] | None, float]] = [
        ("inputs", np.asarray(inputs).T, "viridis", None, 1.0),
        ("targets", np.asarray(targets).T, "viridis", (0.0, 1.0), 1.0),
        ("outputs", np.asarray(outputs).T, "viridis", (0.0, 1.0), 1.0),
    ]
    multi_w, multi_r = add.shape[1] > 1, reads.shape[1] > 1
    for h in range(add.shape[1]):
        panels.append((f"adds (write head {h})" if multi_w else "adds", add[:, h].T, "RdBu_r", (-1.0, 1.0), 1.0))
    for h in range(reads.shape[1]):
        lim = max(float(np.abs(reads[:, h]).max()), 1e-6)
        panels.append((f"reads (read head {h})" if multi_r else "reads", reads[:, h].T, "RdBu_r", (-lim, lim), 1.0))
    weight_height = 1.0 + min(write_w.shape[-1], 128) / 32.0  # taller for bigger memories
    for h in range(write_w.shape[1]):
        name = f"write weighting (head {h})" if multi_w else "write weighting"
        panels.append((name, write_w[:, h].T, "gray", (0.0, 1.0), weight_height))
    for h in range(read_w.shape[1]):
        name = f"read weighting (head {h})" if multi_r else "read weighting"
        panels.append((name, read_w[:, h].T, "gray", (0.0, 1.0), weight_height))

    heights = [p[4] for p in panels]
    width = min(max(6.0, 0.05 * num_steps + 3.0), 18.0)
    height = 0.9 * sum(heights) + 1.2
    fig = _figure(width, height)
    # Fixed margins in inches, so tall figures get no wide gap under the title.
    grid = fig.add_gridspec(len(panels), 1, height_ratios=heights, hspace=0.45,
                            top=1 - 0.55 / height, bottom=0.5 / height)
    first = None
    for row, (name, image, cmap, vrange, _) in enumerate(panels):
        ax = fig.add_subplot(grid[row], sharex=first)
        first = first or ax
        vmin, vmax = vrange if vrange is not None else (None, None)
        im = ax.imshow(image, aspect="auto", interpolation="nearest", cmap=cmap, vmin=vmin, vmax=vmax,
                       extent=(-0.5, num_steps - 0.5, image.shape[0] - 0.5, -0.5))
        fig.colorbar(im, ax=ax, fraction=0.025, pad=0.01)
        ax.set_title(name, fontsize=9, loc="left")
        ax.set_ylabel("location" if "weighting" in name else "", fontsize=8)
        ax.tick_params(labelsize=7)
        if row < len(panels) - 1:
            ax.tick_params(labelbottom=False)
        else:
            ax.set_xlabel("time step")
    first.set_xlim(-0.5, num_steps - 0.5)
    if title:
        fig.suptitle(title, fontsize=11, y=1 - 0.12 / height)
    return _save(fig, out_path)
