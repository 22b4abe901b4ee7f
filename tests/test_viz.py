"""The figures, as a reader sees them: each test draws a figure and measures what is on it
(legend and label extents, tick labels, axes limits, the saved image's size in pixels).

Runs are written by hand (config.json and metrics.csv) and memory traces are synthetic arrays,
so nothing is trained.
"""

import json
import math
import types

import numpy as np
import pytest
from matplotlib.image import imread

from ntm import presets, pretrained, viz

METRICS_HEADER = "sequences,cost_bits,bit_errors,eval_cost_bits,seq_per_s,wall_time,skipped"


def make_run(path, task="copy", model="ntm-ff", model_args=None, **train):
    """A run directory as ``ntm train`` writes one, with a made-up learning curve."""
    path.mkdir(parents=True)
    section = presets.config_to_dict(presets.model_config(task, model, "paper", **(model_args or {})))
    train = {"task": task, "model": model, "preset": "default", "task_args": {}, "model_args": model_args or {},
             "seed": 0, "sequences": 20_000, **train}
    config = {"train": train, "model": section}
    (path / "config.json").write_text(json.dumps(config))
    rows = [METRICS_HEADER]
    for i in range(1, 41):
        cost = 60.0 * math.exp(-i / (8 if model != "lstm" else 30)) + 0.05
        rows.append(f"{i * 500},{cost:.4f},{cost / 3:.2f},{cost * 0.9 if i % 5 == 0 else ''},200.0,{i}.0,0")
    (path / "metrics.csv").write_text("\n".join(rows) + "\n")
    return path


def records(scale):
    return [{"length": n, "cost_bits": scale * n, "bit_error_rate": min(0.5, scale * n / 50)} for n in (10, 20, 40, 80)]


def check_legend_leaves_the_plot_clear(fig, min_axes_share):
    """The legend is narrow and inside the figure; it lies inside one axes or clear of them all,
    and off every axis label; the axes fill most of the figure."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    home = next((ax for ax in fig.axes if ax.get_legend() is not None), None)
    legend = home.get_legend() if home is not None else fig.legends[0]
    box = legend.get_window_extent(renderer)
    assert box.width < 0.35 * fig.bbox.width
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1
    for ax in fig.axes:
        for label in (ax.yaxis.label, ax.xaxis.label, ax.title):
            assert not box.overlaps(label.get_window_extent(renderer)), label.get_text()
        if ax is home:
            assert ax.bbox.x0 <= box.x0 and box.x1 <= ax.bbox.x1 and ax.bbox.y0 <= box.y0 and box.y1 <= ax.bbox.y1
        else:
            assert not box.overlaps(ax.get_tightbbox(renderer))
    share = sum(ax.bbox.width for ax in fig.axes) / fig.bbox.width
    assert share >= min_axes_share
    return legend


# Legend labels --------------------------------------------------------------------------------


def test_labels_of_ntm_against_lstm_are_the_model_names(tmp_path):
    runs = [make_run(tmp_path / "copy-ntm-ff-seed0"), make_run(tmp_path / "copy-lstm-seed0", model="lstm")]
    assert viz.run_labels(runs) == ["ntm-ff", "lstm"]


def test_labels_name_settings_that_differ_among_runs_of_one_model(tmp_path):
    runs = [
        make_run(tmp_path / "a", learning_rate=3e-3),
        make_run(tmp_path / "b", learning_rate=1e-4),
        make_run(tmp_path / "c", model="lstm", learning_rate=1e-4),
        make_run(tmp_path / "d", model="ntm-lstm", model_args={"memory_rows": 64}),
    ]
    assert viz.run_labels(runs) == ["ntm-ff lr=0.003", "ntm-ff lr=0.0001", "lstm", "ntm-lstm"]
    same = [make_run(tmp_path / "e"), make_run(tmp_path / "f")]
    assert viz.run_labels(same) == ["ntm-ff (e)", "ntm-ff (f)"]
    sizes = [make_run(tmp_path / "g"), make_run(tmp_path / "h", model_args={"memory_rows": 64})]
    assert viz.run_labels(sizes) == ["ntm-ff N=128", "ntm-ff N=64"]


def many_runs(tmp_path):
    """Six runs whose labels are long: several settings differ, one run has a curriculum."""
    stage = [{"until": 5000, "task_args": {"train_lengths": [1, 5]}}]
    return [
        make_run(tmp_path / "r0", learning_rate=1e-3, seed=0),
        make_run(tmp_path / "r1", learning_rate=3e-4, batch_size=16, seed=1, curriculum=stage),
        make_run(tmp_path / "r2", learning_rate=1e-4, seed=2, model_args={"controller_size": 50}),
        make_run(tmp_path / "r3", model="lstm", seed=3),
        make_run(tmp_path / "r4", model="lstm", seed=4),
        make_run(tmp_path / "r5", model="ntm-lstm"),
    ]


# Learning and generalisation curves -----------------------------------------------------------


def test_ntm_against_lstm_learning_curves_have_a_small_legend(tmp_path):
    runs = [make_run(tmp_path / "copy-ntm-ff-seed0"), make_run(tmp_path / "copy-lstm-seed0", model="lstm")]
    legend = check_legend_leaves_the_plot_clear(viz.learning_curves_figure(runs, log_y=True), min_axes_share=0.75)
    assert [t.get_text() for t in legend.get_texts()] == ["ntm-ff", "lstm"]


def test_ngram_learning_curves_mark_the_optimum_of_each_evaluations_own_sequences(tmp_path):
    runs = [make_run(tmp_path / f"dynamic_ngrams-ntm-lstm-seed{s}", task="dynamic_ngrams", model="ntm-lstm")
            for s in (0, 1)]
    for s, run in enumerate(runs):  # every fifth row an evaluation with its batch's optimum
        lines = (run / "metrics.csv").read_text().splitlines()
        rows = [lines[0] + ",eval_reference_bits"]
        for i, line in enumerate(lines[1:], start=1):
            rows.append(line + (f",{130.0 + s + i / 10}" if i % 5 == 0 else ","))
        (run / "metrics.csv").write_text("\n".join(rows) + "\n")
    fig = viz.learning_curves_figure(runs, labels=["seed 0", "seed 1"])
    legend = check_legend_leaves_the_plot_clear(fig, min_axes_share=0.75)  # small: inside the axes
    assert [t.get_text() for t in legend.get_texts()] == ["seed 0", "seed 1", "x: optimum, same sequences"]
    crosses = [line for line in fig.axes[0].lines if line.get_marker() == "x"]
    assert len(crosses) == 2
    np.testing.assert_allclose(crosses[1].get_ydata(), [131.0 + i / 10 for i in range(5, 41, 5)])
    np.testing.assert_allclose(crosses[1].get_xdata(), [i * 0.5 for i in range(5, 41, 5)])
    assert fig.axes[0].get_ylim()[1] > 134  # the crosses are inside the plot


def test_a_long_legend_goes_beside_the_learning_curves(tmp_path):
    legend = check_legend_leaves_the_plot_clear(viz.learning_curves_figure(many_runs(tmp_path)), min_axes_share=0.5)
    assert len(legend.get_texts()) == 6
    assert any("curriculum to 5,000" in t.get_text() for t in legend.get_texts())


@pytest.mark.parametrize("count", [2, 6])
def test_generalisation_legend_leaves_the_plot_clear(tmp_path, count):
    labels = viz.run_labels(many_runs(tmp_path)[:count] if count > 2 else
                            [make_run(tmp_path / "ntm"), make_run(tmp_path / "lstm", model="lstm")])
    fig = viz.generalisation_figure({label: records(0.1 * (i + 1)) for i, label in enumerate(labels)}, log_y=True)
    check_legend_leaves_the_plot_clear(fig, min_axes_share=0.6)


def test_saved_curves_are_the_size_of_the_figure(tmp_path):
    runs = [make_run(tmp_path / "ntm"), make_run(tmp_path / "lstm", model="lstm")]
    out = viz.plot_learning_curves(runs, tmp_path / "curves.png", log_y=True)
    height, width = imread(out).shape[:2]
    assert width <= 8 * 100 * 1.05 and height <= 4.5 * 100 * 1.05  # no legend sticking out
    out = viz.plot_generalisation({"ntm-ff": records(0.1), "lstm": records(1.0)}, tmp_path / "gen.png")
    assert imread(out).shape[1] <= 11 * 100 * 1.05


# Memory access --------------------------------------------------------------------------------


def trace(steps=6, write_heads=1, read_heads=1, rows=128, width=8, used=None):
    """A synthetic NTM trace: heads step through the rows ``used`` (default: all), one a step, 16 apart."""
    rng = np.random.default_rng(0)
    used = np.arange(rows) if used is None else np.asarray(used)

    def weighting(heads, offset):
        w = np.zeros((steps, heads, rows))
        for t in range(steps):
            for h in range(heads):
                w[t, h, used[(t + offset + 16 * h) % used.size]] = 1.0
        return w

    return types.SimpleNamespace(
        add=rng.uniform(-1, 1, (steps, write_heads, width)),
        reads=rng.uniform(-1, 1, (steps, read_heads, width)),
        write_w=weighting(write_heads, 0),
        read_w=weighting(read_heads, 3),
    )


def image_axes(fig):
    return [ax for ax in fig.axes if ax.get_images() and ax.get_title(loc="left")]  # (not the colour bars)


def panel(fig, title):
    (ax,) = [ax for ax in image_axes(fig) if ax.get_title(loc="left").startswith(title)]
    return ax


def visible_ticks(ax, axis):
    lo, hi = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    ticks = ax.get_xticks() if axis == "x" else ax.get_yticks()
    return [t for t in ticks if lo <= t <= hi]


def row_numbers(ax):
    """The row numbers the y axis shows."""
    lo, hi = sorted(ax.get_ylim())
    return [int(t.get_text()) for t in ax.get_yticklabels() if lo <= t.get_position()[1] <= hi]


def test_memory_access_ticks_are_whole_numbers():
    steps = 6
    inputs = np.eye(steps, 1)  # one channel, as in dynamic n-grams
    fig = viz.memory_access_figure(inputs, inputs, inputs * 0.9, trace(steps, used=range(5)), "one channel")
    fig.canvas.draw()
    for ax in image_axes(fig):
        for axis in "xy":
            ticks = visible_ticks(ax, axis)
            assert ticks and all(float(t).is_integer() for t in ticks), (ax.get_title(loc="left"), axis, ticks)
    for name in ("inputs", "targets", "outputs"):
        assert visible_ticks(panel(fig, name), "y") == [0]  # a one-channel panel: the channel's number


def test_weighting_panels_show_only_the_rows_used():
    fig = viz.memory_access_figure(np.zeros((20, 3)), np.zeros((20, 2)), np.zeros((20, 2)),
                                   trace(20, used=range(10, 20)))
    fig.canvas.draw()
    for name in ("write weighting", "read weighting"):
        ax = panel(fig, name)
        assert ax.get_ylim() == (21.5, 7.5)  # rows 10-19, two more each side, row 10 at the top
        assert ax.get_ylabel() == "memory row\n(rows 8-21 of 128)"
        (image,) = ax.get_images()
        assert image.get_array().shape == (14, 20)
        shown = row_numbers(ax)
        assert shown and all(8 <= r <= 21 for r in shown)  # true row numbers


def test_weighting_panels_crop_across_the_end_of_memory():
    used = [*range(124, 128), *range(10)]  # a head that starts at row 124 and wraps round
    fig = viz.memory_access_figure(np.zeros((14, 3)), np.zeros((14, 2)), np.zeros((14, 2)), trace(14, used=used))
    fig.canvas.draw()
    ax = panel(fig, "write weighting")
    assert ax.get_ylabel() == "memory row\n(rows 122-127,\n0-11 of 128)"
    (image,) = ax.get_images()
    assert image.get_array().shape == (18, 14)
    np.testing.assert_array_equal(image.get_array().argmax(0), [(u + 6) % 128 for u in used])  # 122 on top
    shown = row_numbers(ax)
    assert 0 in shown and all(r <= 11 or r >= 122 for r in shown)


def test_weighting_panels_of_a_memory_used_throughout_are_not_cropped():
    fig = viz.memory_access_figure(np.zeros((128, 3)), np.zeros((128, 2)), np.zeros((128, 2)), trace(128))
    ax = panel(fig, "read weighting")
    assert ax.get_ylim() == (127.5, -0.5) and ax.get_ylabel() == "memory row"


def pixel(fig, ax, fx, fy):
    """The colour drawn at fraction (fx, fy) of the axes (from its bottom left)."""
    image = np.asarray(fig.canvas.buffer_rgba())
    x = ax.bbox.x0 + fx * ax.bbox.width
    y = ax.bbox.y0 + fy * ax.bbox.height
    return tuple(image[int(image.shape[0] - y), int(x), :3])


def test_outputs_are_drawn_only_where_they_are_scored():
    steps = 10
    rng = np.random.default_rng(1)
    inputs = np.zeros((steps, 3))
    targets = np.zeros((steps, 2))
    targets[5:] = rng.integers(0, 2, (5, 2))
    outputs = rng.uniform(0, 1, (steps, 2))  # whatever the model emits before the output phase
    mask = (np.arange(steps) >= 5).astype(float)
    fig = viz.memory_access_figure(inputs, targets, outputs, trace(steps), mask=mask)
    fig.canvas.draw()
    for name in ("targets", "outputs"):
        ax = panel(fig, name)
        assert pixel(fig, ax, 0.25, 0.5) == (255, 255, 255)  # blank while the input comes in
        assert pixel(fig, ax, 0.75, 0.5) != (255, 255, 255)
        drawn = np.ma.getmaskarray(ax.get_images()[0].get_array()) | ~np.isfinite(ax.get_images()[0].get_array())
        np.testing.assert_array_equal(drawn.any(0), mask == 0)
    assert "scored" in panel(fig, "outputs").get_title(loc="left")


@pytest.mark.parametrize("heads", [8, 4])
def test_many_heads_make_a_picture_of_sensible_size(tmp_path, heads):
    steps = 40  # priority sort: 20 inputs, 16 outputs and markers; its NTM-FF has 8 + 8 heads
    fig = viz.memory_access_figure(np.zeros((steps, 10)), np.zeros((steps, 8)), np.zeros((steps, 8)),
                                   trace(steps, heads, heads, width=20), "priority sort")
    fig.savefig(tmp_path / "m.png", format="png", bbox_inches="tight")  # as plot_memory_access saves it
    height, width = imread(tmp_path / "m.png").shape[:2]
    assert height <= 2400 and width <= 1900
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    axes = image_axes(fig)
    assert len(axes) == 3 + 4 * heads
    columns = {round(ax.bbox.x0) for ax in axes}
    assert len(columns) == min(heads, 4)  # heads of one kind side by side, four to a row
    for ax in axes:
        assert ax.bbox.height >= 60 and ax.bbox.width >= 200  # panels big enough to read
        title = ax.title.get_window_extent(renderer)
        for other in axes:  # no panel or title covers another panel
            if other is not ax:
                assert not ax.bbox.overlaps(other.bbox)
                assert not title.overlaps(other.bbox), (ax.get_title(loc="left"), other.get_title(loc="left"))


def test_plot_memory_access_writes_the_figure(tmp_path):
    out = viz.plot_memory_access(np.zeros((6, 3)), np.zeros((6, 2)), np.zeros((6, 2)), trace(), tmp_path / "a" / "m.png")
    assert out == tmp_path / "a" / "m.png"
    fig = viz.memory_access_figure(np.zeros((6, 3)), np.zeros((6, 2)), np.zeros((6, 2)), trace())
    width, height = fig.get_size_inches() * fig.dpi
    assert imread(out).shape[:2] == pytest.approx((height, width), rel=0.1)


# The n-gram demo ------------------------------------------------------------------------------


def block(text, heading):
    """The '#' / '.' lines under ``heading`` in the demo's text."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading)) + 1
    body = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        body.append(line.strip())
    return "".join(body)


@pytest.mark.skipif("dynamic_ngrams" not in pretrained.available(), reason="no shipped n-gram model")
def test_ngram_demo_shows_a_sequence_of_0s_and_1s():
    text = pretrained.demo("dynamic_ngrams")
    bits = block(text, "targets on the scored steps")
    assert len(bits) == 200 and 0.3 <= bits.count("#") / len(bits) <= 0.7
    seed = int(text.split("(seed ")[1].split(",")[0].split(")")[0])
    again = pretrained.demo("dynamic_ngrams", seed=seed)  # the seed it names shows the same sequence
    assert block(again, "targets on the scored steps") == bits and f"(seed {seed})" in again
