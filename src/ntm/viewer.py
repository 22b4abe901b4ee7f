"""An interactive, self-contained HTML viewer of one sequence run through a trained NTM.

``write_viewer(run_dir, out_path)`` samples one sequence of the run's task, runs the model with a
trace and writes ONE HTML file (inline CSS and JavaScript, data embedded as JSON, no network
access when opened) that steps through the sequence in time, showing what the paper's memory-use
figures show (section 4.1):

* the input, target and output bits over time, with the current step marked;
* the memory matrix ``M_t`` (N x M) after the current step's write, on a diverging colour scale;
* every head's weighting over the rows at the current step, drawn beside the memory rows, and over
  the whole sequence (an N x T picture per head, one colour per head, sequential scale);
* every head's addressing parameters at the step (gate, shift distribution, key strength, sharpening)
  and its add (write heads) or read vector;
* the program summary of :mod:`ntm.program`.

Controls: a time slider, play/pause, step buttons; the left/right arrow keys step, space plays.
The URL fragment ``#step=K`` opens the page at step K, and ``#selftest`` makes the page exercise its
own controls and write the result as JSON into ``<pre id="selftest">`` (used by the tests, through a
headless browser's ``--dump-dom``).

Legend: T time steps, I inputs, O outputs, N memory rows, M row width, S shifts.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["render_html", "viewer_data", "write_viewer"]

_DECIMALS = 3


def _rounded(a: Any) -> Any:
    """Nested lists of floats rounded to 3 decimals (integers where exact, to save bytes)."""
    arr = np.round(np.asarray(a, dtype=np.float64), _DECIMALS)
    arr = np.where(arr == 0, 0.0, arr)  # no "-0.0"
    if arr.ndim == 0:
        v = float(arr)
        return int(v) if v.is_integer() else v

    def conv(x):
        if isinstance(x, list):
            return [conv(y) for y in x]
        return int(x) if float(x).is_integer() else x

    return conv(arr.tolist())


def _shape(name: str, a: Any, ndim: int) -> tuple[int, ...]:
    arr = np.asarray(a)
    if arr.ndim != ndim:
        raise ValueError(f"render_html: {name} must have {ndim} dimensions, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"render_html: {name} contains NaN or infinity")
    return arr.shape


def _validate(data: dict) -> dict:
    """Check shapes and return a JSON-able copy with rounded numbers."""
    for key in ("inputs", "targets", "outputs", "memory", "heads"):
        if key not in data:
            raise ValueError(f"render_html: data needs the key {key!r}")
    t_steps, _ = _shape("inputs", data["inputs"], 2)
    for key in ("targets", "outputs"):
        shape = _shape(key, data[key], 2)
        if shape[0] != t_steps:
            raise ValueError(f"render_html: {key} has {shape[0]} steps, inputs have {t_steps}")
    if np.shape(data["targets"]) != np.shape(data["outputs"]):
        raise ValueError("render_html: targets and outputs must have the same shape [T, O]")
    mshape = _shape("memory", data["memory"], 3)
    if mshape[0] != t_steps:
        raise ValueError(f"render_html: memory has {mshape[0]} steps, inputs have {t_steps}")
    _, n_rows, width = mshape
    mask = data.get("mask")
    if mask is None:
        mask = np.ones(t_steps)
    if np.shape(mask) != (t_steps,):
        raise ValueError(f"render_html: mask must be [T]=[{t_steps}], got shape {np.shape(mask)}")
    if not data["heads"]:
        raise ValueError("render_html: data['heads'] is empty")
    heads = []
    for i, h in enumerate(data["heads"]):
        label = f"heads[{i}]"
        for key in ("name", "kind", "weights"):
            if key not in h:
                raise ValueError(f"render_html: {label} needs the key {key!r}")
        if h["kind"] not in ("read", "write"):
            raise ValueError(f"render_html: {label}.kind must be 'read' or 'write', got {h['kind']!r}")
        if _shape(f"{label}.weights", h["weights"], 2) != (t_steps, n_rows):
            raise ValueError(f"render_html: {label}.weights must be [T, N]=[{t_steps}, {n_rows}]")
        out = {"name": str(h["name"]), "kind": h["kind"], "weights": _rounded(h["weights"])}
        for key in ("gate", "beta", "gamma"):
            if h.get(key) is not None:
                if np.shape(h[key]) != (t_steps,):
                    raise ValueError(f"render_html: {label}.{key} must be [T]=[{t_steps}]")
                out[key] = _rounded(h[key])
        if h.get("shift") is not None:
            shape = _shape(f"{label}.shift", h["shift"], 2)
            if shape[0] != t_steps:
                raise ValueError(f"render_html: {label}.shift must be [T, S] with T={t_steps}")
            out["shift"] = _rounded(h["shift"])
        for key in ("vector", "erase"):
            if h.get(key) is not None:
                if _shape(f"{label}.{key}", h[key], 2) != (t_steps, width):
                    raise ValueError(f"render_html: {label}.{key} must be [T, M]=[{t_steps}, {width}]")
                out[key] = _rounded(h[key])
        heads.append(out)
    rows = data.get("history_rows")
    if rows is not None and (not rows or not all(isinstance(r, int) and 0 <= r < n_rows for r in rows)):
        raise ValueError(f"render_html: history_rows must be a non-empty list of rows in 0..{n_rows - 1}")
    return {
        "title": str(data.get("title", "Neural Turing Machine")),
        **({"history_rows": list(rows)} if rows is not None else {}),
        "subtitle": str(data.get("subtitle", "")),
        "program": str(data.get("program", "")),
        "inputs": _rounded(data["inputs"]),
        "targets": _rounded(data["targets"]),
        "outputs": _rounded(data["outputs"]),
        "mask": _rounded(mask),
        "memory": _rounded(data["memory"]),
        "heads": heads,
    }


def render_html(data: dict) -> str:
    """Render the viewer page for one sequence.

    Args:
        data: a dict of numpy arrays or nested lists:

            * ``inputs [T, I]``, ``targets [T, O]``, ``outputs [T, O]`` (output probabilities),
              optional ``mask [T]`` (1 where the output is scored);
            * ``memory [T, N, M]``: the memory after each step's write;
            * ``heads``: a list of dicts, one per head, with ``name``, ``kind`` (``"read"`` or
              ``"write"``), ``weights [T, N]`` and optionally ``gate [T]``, ``shift [T, S]``,
              ``beta [T]``, ``gamma [T]``, ``vector [T, M]`` (the read vector, or the add vector
              of a write head) and ``erase [T, M]``;
            * optional strings ``title``, ``subtitle``, ``program``.

    Returns:
        One self-contained HTML document (numbers rounded to 3 decimals).

    Raises:
        ValueError: a missing key, inconsistent shapes, or non-finite numbers (naming the field).
    """
    clean = _validate(data)
    payload = json.dumps(clean, separators=(",", ":"), allow_nan=False)
    # Inside <script>, "</" could close the element early; "<\/" is the same JSON string.
    payload = payload.replace("</", "<\\/")
    return (
        _TEMPLATE.replace("__TITLE__", html.escape(clean["title"]))
        .replace("__CSS__", _CSS)
        .replace("__JS__", _JS)
        .replace("__DATA__", payload)
    )


def viewer_data(run_dir: str | Path, length: int | None = None, seed: int = 0, checkpoint: str = "best") -> dict:
    """The ``data`` dict of :func:`render_html` for one sampled sequence of a run, trimmed to the
    steps up to the last scored one (see :func:`ntm.program.sample_run`)."""
    from ntm import program

    r = program.sample_run(run_dir, length, seed, checkpoint)
    valid = r["valid"]
    batch, tr, model = r["batch"], r["trace"], r["model"]
    logits = np.asarray(r["logits"], dtype=np.float64)[0, :valid]
    heads = []
    for kind in ("write", "read"):
        weights = np.asarray(getattr(tr, f"{kind}_w"))[:valid, 0]  # [T, H, N]
        vector = np.asarray(tr.add if kind == "write" else tr.reads)[:valid, 0]  # [T, H, M]
        for h in range(weights.shape[1]):
            head = {
                "name": f"{kind} head {h}",
                "kind": kind,
                "weights": weights[:, h],
                "gate": np.asarray(getattr(tr, f"{kind}_gate"))[:valid, 0, h],
                "shift": np.asarray(getattr(tr, f"{kind}_shift"))[:valid, 0, h],
                "beta": np.asarray(getattr(tr, f"{kind}_beta"))[:valid, 0, h],
                "gamma": np.asarray(getattr(tr, f"{kind}_gamma"))[:valid, 0, h],
                "vector": vector[:, h],
            }
            if kind == "write":
                head["erase"] = np.asarray(tr.erase)[:valid, 0, h]
            heads.append(head)
    c = model.config
    from ntm.viz import used_rows

    # The head panels show the rows some head weights (as ntm show does), in order round the end
    # of memory when the rows used wrap.
    lo, hi = used_rows(np.concatenate([np.asarray(tr.write_w)[:valid, 0], np.asarray(tr.read_w)[:valid, 0]], axis=1))
    return {
        "title": f"NTM viewer: {r['task'].name} / {r['model_name']}",
        "history_rows": [int(i) % c.memory_rows for i in range(lo, hi + 1)],
        "subtitle": (
            f"{r['task'].size_label} {r['length']} (seed {seed}), {valid} steps; memory {c.memory_rows} x {c.memory_width}"
            f"; {r['info'].describe()}"
        ),
        "program": program.summarize_sample(r, seed),
        "inputs": np.asarray(batch.inputs)[0, :valid],
        "targets": np.asarray(batch.targets)[0, :valid],
        # Outputs only where they are scored, as the targets (the "scored" row says where).
        "outputs": (1.0 / (1.0 + np.exp(-logits))) * np.asarray(batch.mask)[0, :valid, None],
        "mask": np.asarray(batch.mask)[0, :valid],
        "memory": np.asarray(tr.memory)[:valid, 0],
        "heads": heads,
    }


def write_viewer(
    run_dir: str | Path, out_path: str | Path, length: int | None = None, seed: int = 0, checkpoint: str = "best"
) -> Path:
    """Write the viewer of one sampled sequence of a run (``ntm view DIR --out viewer.html``).

    Args:
        run_dir: a run directory (see :mod:`ntm.runs`; ``shipped:TASK`` for a shipped model).
        out_path: the HTML file to write (parent directories are created).
        length: the task's main size; default: the task's ``show_sizes``.
        seed: PRNG seed of the sampled sequence.
        checkpoint: ``"best"`` or ``"last"`` (see :func:`ntm.program.sample_run`).

    Returns:
        ``out_path`` as a Path.

    Raises:
        ntm.runs.RunError: an unusable run directory.
        ValueError: the model has no memory (the LSTM baseline) or a bad ``length``.
    """
    out = Path(out_path)
    page = render_html(viewer_data(run_dir, length, seed, checkpoint))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


# ----------------------------------------------------------------------------------------------
# The page.  Plain ES2017 and 2D canvas, no libraries, so it opens offline in any browser.

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<script>
// Collect script errors first of all, so the self-test (and a curious user) can see them.
window.__ntmErrors = [];
window.addEventListener("error", function (e) { window.__ntmErrors.push(String(e.message || e)); });
window.addEventListener("unhandledrejection", function (e) { window.__ntmErrors.push("unhandled rejection: " + e.reason); });
(function () {
  var original = console.error;
  console.error = function () {
    window.__ntmErrors.push(Array.prototype.map.call(arguments, String).join(" "));
    return original.apply(console, arguments);
  };
})();
</script>
<style>__CSS__</style>
</head>
<body>
<header>
  <h1 id="title"></h1>
  <div id="subtitle"></div>
  <div id="controls">
    <button id="first" title="first step (Home)">|&#x25C0;</button>
    <button id="prev" title="previous step (left arrow)">&#x25C0;</button>
    <button id="play" title="play / pause (space)">Play</button>
    <button id="next" title="next step (right arrow)">&#x25B6;</button>
    <button id="last" title="last step (End)">&#x25B6;|</button>
    <input id="slider" type="range" min="0" max="0" value="0" step="1" aria-label="time step">
    <span id="step-label">step 0 / 0</span>
    <label>speed <select id="speed"><option value="800">slow</option><option value="300" selected>normal</option><option value="100">fast</option></select></label>
  </div>
</header>
<main>
  <section id="col-seq">
    <h2>Sequence</h2>
    <div id="seq"></div>
    <div class="legend-row"><canvas id="legend-bits" width="120" height="12"></canvas><span id="legend-bits-label">0 &#x2192; 1</span></div>
    <h2>Program</h2>
    <pre id="program"></pre>
  </section>
  <section id="col-mem">
    <h2>Memory at step <span id="mem-step">0</span> <small>(after the write)</small></h2>
    <div id="mem-wrap">
      <canvas id="memory"></canvas>
      <canvas id="bars"></canvas>
    </div>
    <div class="caption" id="mem-caption"></div>
    <div class="legend-row"><span id="mem-lo"></span><canvas id="legend-mem" width="160" height="12"></canvas><span id="mem-hi"></span><span class="note">memory (diverging)</span></div>
    <div id="bars-legend"></div>
  </section>
  <section id="col-heads">
    <h2>Head weightings over time</h2>
    <div id="heads"></div>
  </section>
</main>
<script type="application/json" id="ntm-data">__DATA__</script>
<script>__JS__</script>
</body>
</html>
"""

_CSS = """
body { font: 13px/1.35 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222; background: #fafafa; }
header { padding: 8px 14px; background: #fff; border-bottom: 1px solid #ddd; position: sticky; top: 0; z-index: 2; }
h1 { font-size: 17px; margin: 0 0 2px; }
h2 { font-size: 13px; margin: 10px 0 6px; color: #444; }
#subtitle { color: #666; }
#controls { margin-top: 6px; display: flex; align-items: center; gap: 6px; flex-wrap: wrap; }
#controls button { min-width: 34px; padding: 3px 8px; font-size: 13px; cursor: pointer; }
#play { min-width: 64px; }
#slider { width: 360px; }
#step-label { font-variant-numeric: tabular-nums; min-width: 110px; font-weight: 600; }
main { display: flex; gap: 18px; padding: 4px 14px 14px; align-items: flex-start; }
section { background: #fff; border: 1px solid #e2e2e2; border-radius: 6px; padding: 2px 10px 10px; }
#col-seq { flex: 0 0 auto; max-width: 360px; }
#col-heads { flex: 1 1 auto; min-width: 0; }
canvas { image-rendering: pixelated; display: block; }
.seq-row { margin-bottom: 6px; }
.seq-row .label, .head .label { font-size: 12px; color: #555; }
#mem-wrap { display: flex; gap: 6px; align-items: flex-start; }
.legend-row { display: flex; align-items: center; gap: 6px; margin-top: 6px; font-size: 11px; color: #555; }
.legend-row .note { margin-left: 6px; }
.head { margin-bottom: 10px; }
.head canvas { max-width: 100%; height: auto; }
.caption { font-size: 11px; color: #666; margin-top: 4px; max-width: 380px; }
.head .title { font-weight: 600; }
.head .stats { font-family: ui-monospace, monospace; font-size: 11px; color: #333; white-space: pre; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
#program { font-size: 11px; background: #f4f4f4; padding: 6px; border-radius: 4px; max-height: 320px; overflow: auto; white-space: pre-wrap; }
"""

_JS = r"""
"use strict";
(function () {
  var D = JSON.parse(document.getElementById("ntm-data").textContent);
  var T = D.inputs.length, N = D.memory[0].length, M = D.memory[0][0].length;
  var HEAD_COLORS = ["#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f"];
  // ColorBrewer RdBu, reversed: blue negative, white zero, red positive.
  var RDBU = ["#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7",
              "#fddbc7", "#f4a582", "#d6604d", "#b2182b", "#67001f"];
  var $ = function (id) { return document.getElementById(id); };

  // Colours are [r, g, b] arrays; css() makes a fill style of one.
  function hexRgb(h) { return [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)]; }
  var RDBU_RGB = RDBU.map(hexRgb), WHITE = [255, 255, 255], GREY = [90, 90, 90];
  function clamp(x, lo, hi) { return x < lo ? lo : x > hi ? hi : x; }
  function css(c) { return "rgb(" + Math.round(c[0]) + "," + Math.round(c[1]) + "," + Math.round(c[2]) + ")"; }
  function mix(a, b, f) { return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f]; }
  // Diverging scale: v in [-lim, lim] -> RdBu.
  function diverging(v, lim) {
    var x = clamp((v / lim + 1) / 2, 0, 1) * (RDBU_RGB.length - 1);
    var i = Math.min(Math.floor(x), RDBU_RGB.length - 2);
    return mix(RDBU_RGB[i], RDBU_RGB[i + 1], x - i);
  }
  // Sequential scale: v in [0, 1] -> white .. base colour .. darker (monotone in lightness).
  function sequential(v, base) {
    var f = clamp(v, 0, 1);
    return f < 0.6 ? mix(WHITE, base, f / 0.6) : mix(base, mix(base, [0, 0, 0], 0.35), (f - 0.6) / 0.4);
  }
  function absMax(a) {
    var m = 0;
    (function walk(x) { if (Array.isArray(x)) { x.forEach(walk); } else if (Math.abs(x) > m) { m = Math.abs(x); } })(a);
    return m || 1;
  }
  function minOf(a) { var m = Infinity; a.forEach(function (r) { r.forEach(function (v) { if (v < m) m = v; }); }); return m; }
  function canvas(w, h) { var c = document.createElement("canvas"); c.width = w; c.height = h; return c; }
  function fmt(v) { return v === undefined ? "-" : (Math.round(v * 100) / 100).toFixed(2); }
  // A picture of a matrix, one pixel per cell: value(i, j) is row i, column j.  Drawn scaled up.
  function image(rows, cols, value, color) {
    var c = canvas(cols, rows), ctx = c.getContext("2d"), img = ctx.createImageData(cols, rows), px = img.data;
    for (var i = 0; i < rows; i++) for (var j = 0; j < cols; j++) {
      var rgb = color(value(i, j)), k = 4 * (i * cols + j);
      px[k] = rgb[0]; px[k + 1] = rgb[1]; px[k + 2] = rgb[2]; px[k + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    return c;
  }
  function blit(ctx, src, x, y, w, h) { ctx.imageSmoothingEnabled = false; ctx.drawImage(src, x, y, w, h); }

  // Layout: time runs left to right in the sequence and history pictures, memory rows top to bottom.
  var colW = clamp(Math.floor(340 / T), 2, 16);
  var memCellH = clamp(Math.floor(520 / N), 2, 24), memCellW = clamp(Math.floor(220 / M), 4, 24);
  // The rows the head panels show (all N where the data does not say).
  var HR = D.history_rows || Array.from({ length: N }, function (_, i) { return i; });
  var histCellH = clamp(Math.floor(200 / HR.length), 1, 10);
  var barsW = D.heads.length > 6 ? 22 : 40;
  var memLim = absMax(D.memory);
  var t = 0, timer = null;

  $("title").textContent = D.title;
  $("subtitle").textContent = D.subtitle;
  $("program").textContent = D.program || "(no program summary)";
  var slider = $("slider");
  slider.max = String(T - 1);

  // Sequence panel: inputs, targets, outputs and the scored steps over time, pre-rendered once.
  var seqSpecs = [["inputs", D.inputs], ["targets", D.targets], ["outputs", D.outputs],
                  ["scored", D.mask.map(function (v) { return [v]; })]];
  var seqViews = seqSpecs.map(function (spec) {
    var data = spec[1], rows = data[0].length, cellH = clamp(Math.floor(90 / rows), 3, 10);
    var div = document.createElement("div"); div.className = "seq-row";
    var label = document.createElement("div"); label.className = "label"; label.textContent = spec[0];
    var c = canvas(T * colW, rows * cellH + 4);
    div.appendChild(label); div.appendChild(c); $("seq").appendChild(div);
    // Bits in [0, 1] on a grey sequential scale; signed inputs (priorities) on the diverging one.
    var neg = minOf(data) < 0, lim = absMax(data);
    var color = neg ? function (v) { return diverging(v, lim); } : function (v) { return sequential(v / Math.max(1, lim), GREY); };
    return { c: c, pic: image(rows, T, function (i, j) { return data[j][i]; }, color) };
  });

  // Memory and the per-head weight bars at the current step.
  var memC = $("memory"), barsC = $("bars");
  memC.width = M * memCellW; memC.height = N * memCellH;
  barsC.width = D.heads.length * barsW; barsC.height = N * memCellH;
  $("mem-caption").textContent = "rows 0.." + (N - 1) + " top to bottom, columns 0.." + (M - 1) +
    "; beside them, each head's weighting over the rows at this step";
  $("mem-lo").textContent = (-memLim).toFixed(2);
  $("mem-hi").textContent = "+" + memLim.toFixed(2);

  // One panel per head: its weighting over rows x time (pre-rendered), its vector, its numbers.
  var headViews = D.heads.map(function (h, k) {
    var color = HEAD_COLORS[k % HEAD_COLORS.length], base = hexRgb(color);
    var div = document.createElement("div"); div.className = "head";
    var title = document.createElement("div"); title.className = "title";
    title.innerHTML = '<span class="swatch" style="background:' + color + '"></span>';
    title.appendChild(document.createTextNode(h.name));
    var cap = document.createElement("div"); cap.className = "caption";
    var shown = HR.length === N ? "rows" : "rows " + HR[0] + ".." + HR[HR.length - 1] + " of " + N;
    cap.textContent = shown + " (down) x steps (across); below: its " + (h.kind === "write" ? "add" : "read") + " vector at this step";
    var hist = canvas(T * colW, HR.length * histCellH + 4);
    var vec = canvas(M * 8, 10);
    var legend = document.createElement("div"); legend.className = "legend-row";
    var lg = image(1, 100, function (i, j) { return j / 99; }, function (v) { return sequential(v, base); });
    lg.style.width = "100px"; lg.style.height = "10px";
    legend.appendChild(document.createTextNode("weight 0")); legend.appendChild(lg); legend.appendChild(document.createTextNode("1"));
    var stats = document.createElement("div"); stats.className = "stats";
    div.appendChild(title); div.appendChild(cap); div.appendChild(hist); div.appendChild(vec);
    div.appendChild(legend); div.appendChild(stats);
    $("heads").appendChild(div);
    var sw = document.createElement("span");
    sw.innerHTML = '<span class="swatch" style="background:' + color + '"></span>';
    sw.appendChild(document.createTextNode(h.name + "  "));
    $("bars-legend").appendChild(sw);
    return {
      h: h, color: color, hist: hist, vec: vec, stats: stats, vecLim: h.vector ? absMax(h.vector) : 1,
      pic: image(HR.length, T, function (i, j) { return h.weights[j][HR[i]]; }, function (v) { return sequential(v, base); })
    };
  });

  // Legends of the shared scales.
  blit($("legend-mem").getContext("2d"), image(1, 160, function (i, j) { return (j / 159) * 2 - 1; },
       function (v) { return diverging(v, 1); }), 0, 0, 160, 12);
  blit($("legend-bits").getContext("2d"), image(1, 120, function (i, j) { return j / 119; },
       function (v) { return sequential(v, GREY); }), 0, 0, 120, 12);

  function drawTimeline(c, pic, cellH) {
    var ctx = c.getContext("2d");
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, c.width, c.height);
    blit(ctx, pic, 0, 2, T * colW, c.height - 4);
    ctx.strokeStyle = "#d00"; ctx.lineWidth = 2;
    ctx.strokeRect(t * colW + 1, 1, Math.max(colW - 2, 1), c.height - 2);
  }

  function drawSequence() { seqViews.forEach(function (s) { drawTimeline(s.c, s.pic); }); }

  function drawMemory() {
    var mem = D.memory[t];
    blit(memC.getContext("2d"), image(N, M, function (i, j) { return mem[i][j]; }, function (v) { return diverging(v, memLim); }),
         0, 0, memC.width, memC.height);
    var b = barsC.getContext("2d");
    b.fillStyle = "#fff"; b.fillRect(0, 0, barsC.width, barsC.height);
    headViews.forEach(function (v, k) {
      var w = v.h.weights[t];
      b.fillStyle = "#f0f0f0"; b.fillRect(k * barsW, 0, barsW - 3, barsC.height);
      b.fillStyle = v.color;
      for (var i = 0; i < N; i++) {
        var len = w[i] * (barsW - 3);  // bars under half a pixel are not drawn
        if (len >= 0.5) b.fillRect(k * barsW, i * memCellH, Math.max(1, len), Math.max(1, memCellH - (memCellH > 3 ? 1 : 0)));
      }
    });
  }

  function drawHeads() {
    headViews.forEach(function (v) {
      var h = v.h;
      drawTimeline(v.hist, v.pic);
      var vc = v.vec.getContext("2d");
      vc.clearRect(0, 0, v.vec.width, v.vec.height);
      if (h.vector) for (var j = 0; j < M; j++) { vc.fillStyle = css(diverging(h.vector[t][j], v.vecLim)); vc.fillRect(j * 8, 1, 8, 8); }
      var w = h.weights[t], best = 0;
      for (var r = 1; r < N; r++) if (w[r] > w[best]) best = r;
      var lines = ["focus row " + best + " (weight " + fmt(w[best]) + (w[best] < 0.5 ? ", blurred" : "") + ")"];
      if (h.gate) lines.push("gate " + fmt(h.gate[t]) + (h.gate[t] >= 0.5 ? "  content" : "  location"));
      if (h.shift) {
        var half = (h.shift[t].length - 1) / 2;
        lines.push("shift " + h.shift[t].map(function (p, j) { return (j - half > 0 ? "+" : "") + (j - half) + ":" + fmt(p); }).join(" "));
      }
      if (h.beta || h.gamma) lines.push("beta " + fmt(h.beta && h.beta[t]) + "  gamma " + fmt(h.gamma && h.gamma[t]));
      v.stats.textContent = lines.join("\n");
    });
  }

  function draw() {
    slider.value = String(t);
    $("step-label").textContent = "step " + t + " / " + (T - 1);
    $("mem-step").textContent = String(t);
    drawSequence(); drawMemory(); drawHeads();
  }

  function setStep(s) { t = clamp(Math.round(s), 0, T - 1); draw(); }
  function pause() { if (timer !== null) { clearInterval(timer); timer = null; } $("play").textContent = "Play"; }
  function play() {
    if (timer !== null) return;
    if (t >= T - 1) setStep(0);
    $("play").textContent = "Pause";
    timer = setInterval(function () { if (t >= T - 1) { pause(); } else { setStep(t + 1); } }, Number($("speed").value));
  }
  function toggle() { if (timer === null) play(); else pause(); }

  slider.addEventListener("input", function () { pause(); setStep(Number(slider.value)); });
  $("play").addEventListener("click", toggle);
  $("prev").addEventListener("click", function () { pause(); setStep(t - 1); });
  $("next").addEventListener("click", function () { pause(); setStep(t + 1); });
  $("first").addEventListener("click", function () { pause(); setStep(0); });
  $("last").addEventListener("click", function () { pause(); setStep(T - 1); });
  $("speed").addEventListener("change", function () { if (timer !== null) { pause(); play(); } });
  document.addEventListener("keydown", function (e) {
    if (e.target && e.target.tagName === "SELECT") return;
    if (e.key === "ArrowLeft") { pause(); setStep(t - 1); e.preventDefault(); }
    else if (e.key === "ArrowRight") { pause(); setStep(t + 1); e.preventDefault(); }
    else if (e.key === "Home") { pause(); setStep(0); e.preventDefault(); }
    else if (e.key === "End") { pause(); setStep(T - 1); e.preventDefault(); }
    else if (e.key === " " && e.target === document.body) { toggle(); e.preventDefault(); }
  });

  var params = new URLSearchParams(location.hash.slice(1));
  setStep(params.has("step") ? Number(params.get("step")) || 0 : 0);

  // Test hook: "#selftest" drives the controls like a user and reports what changed.
  if (params.has("selftest")) {
    var snap = function () {
      return {
        label: $("step-label").textContent,
        memory: memC.toDataURL(), bars: barsC.toDataURL(),
        heads: headViews.map(function (v) { return v.hist.toDataURL() + v.vec.toDataURL(); }).join("|"),
        sequence: seqViews.map(function (s) { return s.c.toDataURL(); }).join("|")
      };
    };
    var report = { ok: false, steps: T, heads: D.heads.length, rows: N, width: M };
    try {
      setStep(0);
      var a = snap(), target = T - 1;
      slider.value = String(target);
      slider.dispatchEvent(new Event("input", { bubbles: true }));
      var b = snap();
      report.slider_step = t;
      report.changed = {};
      ["label", "memory", "bars", "heads", "sequence"].forEach(function (k) { report.changed[k] = a[k] !== b[k]; });
      report.label = b.label;
      document.body.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowLeft", bubbles: true }));
      report.after_left = t;
      document.body.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight", bubbles: true }));
      report.after_right = t;
      setStep(0);
      $("play").click();
      report.play_label = $("play").textContent;
    } catch (err) {
      window.__ntmErrors.push("selftest: " + err);
    }
    setTimeout(function () {
      report.after_play = t;
      pause();
      report.errors = window.__ntmErrors.slice();
      var c = report.changed || {};
      report.ok = report.errors.length === 0 && report.slider_step === T - 1 &&
        (T < 2 || (c.label && c.heads && c.sequence && report.after_left === T - 2 && report.after_right === T - 1 &&
                   report.after_play > 0 && report.play_label === "Pause"));
      var pre = document.createElement("pre"); pre.id = "selftest";
      pre.textContent = JSON.stringify(report);
      document.body.appendChild(pre);
    }, 3 * Number($("speed").value) + 50);
  }
})();
"""
