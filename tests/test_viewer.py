"""Tests of ntm.viewer: the HTML is self-contained, its embedded data is right, and -- in a real
headless Chromium -- the page draws, responds to the slider, the arrow keys and play, without a
script error.

The browser tests need Debian's ``chromium`` (``apt-get install chromium``; ``NTM_CHROMIUM`` may
name another binary) and skip themselves, saying so, where there is none.  They drive the page
through its ``#selftest`` hook and ``chromium --headless --dump-dom``, and compare screenshots.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from ntm.viewer import render_html, write_viewer

T, N, M, I, O = 6, 8, 4, 3, 2


def synthetic_data(t=T, n=N, m=M):
    """A write head stepping +1 from row 1 and writing a growing memory, a read head one row behind."""
    rng = np.random.default_rng(0)
    write = np.full((t, n), 0.01)
    read = np.full((t, n), 0.01)
    memory = np.zeros((t, n, m))
    for s in range(t):
        write[s, (1 + s) % n] = 1.0
        read[s, s % n] = 1.0
        memory[s:, (1 + s) % n] = rng.uniform(-1, 1, m)
    write /= write.sum(1, keepdims=True)
    read /= read.sum(1, keepdims=True)
    shift = np.tile([0.05, 0.1, 0.85], (t, 1))
    return {
        "title": "synthetic </script> test",
        "subtitle": "hand-built",
        "program": "write head 0:\n  rows 1..6, +1 per step (steps 0-5)",
        "inputs": rng.integers(0, 2, (t, I)).astype(float),
        "targets": rng.integers(0, 2, (t, O)).astype(float),
        "outputs": rng.uniform(0, 1, (t, O)),
        "mask": (np.arange(t) >= t // 2).astype(float),
        "memory": memory,
        "heads": [
            dict(name="write head 0", kind="write", weights=write, gate=np.zeros(t), shift=shift,
                 beta=np.ones(t), gamma=np.full(t, 2.0), vector=rng.normal(size=(t, m)),
                 erase=rng.uniform(size=(t, m))),
            dict(name="read head 0", kind="read", weights=read, gate=np.ones(t), shift=shift,
                 beta=np.ones(t), gamma=np.ones(t), vector=rng.normal(size=(t, m))),
        ],
    }


def embedded(page: str) -> dict:
    found = re.findall(r'<script type="application/json" id="ntm-data">(.*?)</script>', page, re.S)
    assert len(found) == 1
    return json.loads(found[0])


def assert_self_contained(page: str):
    # Nothing is fetched when the page opens: no remote (or protocol-relative) src/href, no
    # stylesheet links or imports, no external script.
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page.lower() and "@import" not in page
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)


def test_render_html_is_self_contained_and_embeds_the_data():
    data = synthetic_data()
    page = render_html(data)
    assert page.startswith("<!DOCTYPE html>")
    assert_self_contained(page)
    d = embedded(page)
    assert np.shape(d["inputs"]) == (T, I)
    assert np.shape(d["targets"]) == np.shape(d["outputs"]) == (T, O)
    assert np.shape(d["mask"]) == (T,)
    assert np.shape(d["memory"]) == (T, N, M)
    assert [h["name"] for h in d["heads"]] == ["write head 0", "read head 0"]
    for h in d["heads"]:
        assert np.shape(h["weights"]) == (T, N)
        assert np.shape(h["shift"]) == (T, 3)
        assert np.shape(h["vector"]) == (T, M)
        assert np.shape(h["gate"]) == np.shape(h["beta"]) == np.shape(h["gamma"]) == (T,)
    assert np.shape(d["heads"][0]["erase"]) == (T, M) and "erase" not in d["heads"][1]
    # Rounded to 3 decimals.
    np.testing.assert_allclose(d["memory"], np.round(data["memory"], 3), atol=1e-12)
    np.testing.assert_allclose(d["outputs"], np.round(data["outputs"], 3), atol=1e-12)
    json_text = re.search(r'id="ntm-data">(.*?)</script>', page, re.S).group(1)
    assert not re.search(r"\d\.\d{4}", json_text) and "e-" not in json_text
    # "</script>" in a string cannot end the data early, and the title is escaped.
    assert d["title"] == "synthetic </script> test"
    assert "<title>synthetic &lt;/script&gt; test</title>" in page
    assert page.lower().count("</script>") == 3  # the error hook, the data, the viewer


def test_render_html_accepts_lists_and_minimal_heads():
    data = synthetic_data()
    data = {k: data[k] for k in ("inputs", "targets", "outputs", "memory")} | {
        "heads": [{"name": "h", "kind": "read", "weights": data["heads"][1]["weights"].tolist()}]
    }
    d = embedded(render_html(data))
    assert d["mask"] == [1] * T and d["title"] == "Neural Turing Machine"


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda d: d.pop("memory"), "memory"),
        (lambda d: d.update(memory=np.zeros((T + 1, N, M))), "memory"),
        (lambda d: d.update(outputs=np.zeros((T, O + 1))), "same shape"),
        (lambda d: d.update(mask=np.ones(T + 1)), "mask"),
        (lambda d: d.update(heads=[]), "empty"),
        (lambda d: d["heads"][0].update(weights=np.zeros((T, N + 1))), "weights"),
        (lambda d: d["heads"][0].update(kind="erase"), "kind"),
        (lambda d: d["heads"][0].update(vector=np.zeros((T, M + 1))), "vector"),
        (lambda d: d["heads"][0].update(gate=np.zeros(T - 1)), "gate"),
        (lambda d: d["memory"].__setitem__((0, 0, 0), np.nan), "NaN"),
    ],
)
def test_render_html_rejects_bad_data(change, match):
    data = synthetic_data()
    change(data)
    with pytest.raises(ValueError, match=match):
        render_html(data)


# A real browser ------------------------------------------------------------------------------


def chromium_binary():
    for candidate in (os.environ.get("NTM_CHROMIUM"), "chromium", "/usr/bin/chromium", "chromium-browser",
                      "google-chrome"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A function running headless Chromium on a file with extra flags, returning stdout."""
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no chromium found (apt-get install chromium, or set NTM_CHROMIUM): browser tests skipped")
    profile = tmp_path_factory.mktemp("chromium-profile")

    def run(path, fragment, *flags):
        cmd = [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-extensions", "--mute-audio", f"--user-data-dir={profile}", *flags,
            path.resolve().as_uri() + fragment,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    return run


def selftest(browser, path) -> dict:
    dom = browser(path, "#selftest", "--virtual-time-budget=5000", "--dump-dom")
    found = re.findall(r'<pre id="selftest">(.*?)</pre>', dom, re.S)
    assert found, "the page wrote no self-test report:\n" + dom[-2000:]
    return json.loads(html.unescape(found[0]))


def test_browser_slider_keys_and_play_redraw_without_errors(browser, tmp_path):
    page = tmp_path / "viewer.html"
    page.write_text(render_html(synthetic_data()))
    report = selftest(browser, page)
    assert report["errors"] == []
    assert report["steps"] == T and report["heads"] == 2 and report["rows"] == N and report["width"] == M
    # Moving the slider to the last step redraws every picture and the step label...
    assert report["slider_step"] == T - 1 and report["label"] == f"step {T - 1} / {T - 1}"
    assert report["changed"] == {"label": True, "memory": True, "bars": True, "heads": True, "sequence": True}
    # ...the arrow keys step, and play advances on its timer.
    assert report["after_left"] == T - 2 and report["after_right"] == T - 1
    assert report["play_label"] == "Pause" and report["after_play"] > 0
    assert report["ok"] is True


def test_browser_reports_script_errors(browser, tmp_path):
    # The harness must see an error: a page whose own script throws reports it and is not ok.
    page = tmp_path / "broken.html"
    page.write_text(render_html(synthetic_data()).replace("</body>", "<script>null.boom();</script></body>"))
    report = selftest(browser, page)
    assert report["ok"] is False
    assert any("null" in e for e in report["errors"]), report["errors"]


def test_browser_screenshots_differ_between_steps(browser, tmp_path):
    page = tmp_path / "viewer.html"
    page.write_text(render_html(synthetic_data()))
    shots = {}
    for step in (0, 3):
        out = tmp_path / f"step{step}.png"
        browser(page, f"#step={step}", "--window-size=900,700", "--hide-scrollbars", f"--screenshot={out}")
        shots[step] = out.read_bytes()
        assert shots[step][:8] == b"\x89PNG\r\n\x1a\n" and len(shots[step]) > 5000
    assert shots[0] != shots[3]


# The viewer of a real (tiny, untrained) run ----------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, make_run_dir):
    return make_run_dir(tmp_path_factory.mktemp("viewer") / "run", memory_rows=16, memory_width=6, controller_size=8)


def test_write_viewer_on_a_run(tiny_run, tmp_path, request):
    out = write_viewer(tiny_run, tmp_path / "sub" / "viewer.html", length=2)
    assert out == tmp_path / "sub" / "viewer.html" and out.is_file()
    page = out.read_text()
    assert_self_contained(page)
    d = embedded(page)
    steps = 2 * 2 + 1  # copy: 2 vectors, the delimiter, 2 outputs
    assert np.shape(d["inputs"]) == (steps, 9) and np.shape(d["outputs"]) == (steps, 8)
    assert np.shape(d["memory"]) == (steps, 16, 6)
    assert [h["name"] for h in d["heads"]] == ["write head 0", "read head 0"]
    assert np.shape(d["heads"][0]["weights"]) == (steps, 16) and np.shape(d["heads"][0]["shift"]) == (steps, 3)
    np.testing.assert_allclose(np.sum(d["heads"][1]["weights"], axis=1), 1.0, atol=0.01)
    assert d["mask"] == [0] * 3 + [1] * 2
    assert "write head 0:" in d["program"] and "copy / ntm-ff" in d["title"]
    if chromium_binary() is not None:
        report = selftest(request.getfixturevalue("browser"), out)
        assert report["ok"] is True and report["errors"] == [], report


def test_the_viewer_draws_outputs_only_on_scored_steps_and_opens_shipped_models():
    from ntm import viewer

    data = viewer.viewer_data("shipped:copy", length=5)
    outputs, mask = np.asarray(data["outputs"]), np.asarray(data["mask"])
    assert np.all(outputs[mask == 0] == 0)  # the input phase is blank, as in the targets row
    np.testing.assert_array_equal(outputs[mask > 0] > 0.5, np.asarray(data["targets"])[mask > 0] > 0.5)
    assert "best checkpoint (50,176 sequences" in data["subtitle"]


def test_the_viewer_head_panels_show_the_rows_the_heads_use():
    from ntm import viewer

    data = viewer.viewer_data("shipped:copy", length=10)
    rows = data["history_rows"]
    weights = np.concatenate([np.asarray(h["weights"]) for h in data["heads"]], axis=0)  # [T * heads, N]
    used = set(np.nonzero((weights > 0.05).any(axis=0))[0].tolist())
    assert used <= set(rows) and len(rows) < 128 // 3  # copy of 10 uses about a dozen rows of 128
    assert rows == sorted(rows) or rows[0] > rows[-1]  # in order, round the end of memory if need be
    page = viewer.render_html(data)
    assert '"history_rows"' in page
    with pytest.raises(ValueError, match="history_rows"):
        viewer.render_html({**data, "history_rows": [500]})
