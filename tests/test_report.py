"""Tests for ntm.report (REPRODUCTION.md from a grid directory): the median-and-range band by hand,
the n-gram cost as the excess over the optimum of the same sequences, verdicts, recipes and their
deviations from the paper, and a report written from a small real grid (figures included); and
the reproduction recipes of ntm.paper.

Cells use the tiny setting of tests/test_reproduce.py, so they share its compiled update.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from ntm import cli, paper, report, reproduce
from ntm.grid import RESULT_FILE

from test_reproduce import TINY


def fake(task="copy", model="ntm-ff", seed=0, evals=(), solved=None, config=None, generalisation=(), last_excess=None):
    result = None if solved is None else {"solved": solved, "stop_reason": "solved" if solved else "budget"}
    return report.Cell(path=Path(f"{task}-{model}-seed{seed}"), task=task, model=model, seed=seed,
                       config=config or {}, evals=list(evals), sequences=evals[-1][0] if evals else 0,
                       wall_time=1.0, result=result, generalisation=list(generalisation), last_excess=last_excess)


def test_band_is_the_median_and_range_of_each_seeds_last_evaluation():
    a = fake(seed=0, evals=[(1000, 4.0), (2000, 2.0)], solved=False)
    b = fake(seed=1, evals=[(1000, 6.0), (2000, 1.0), (3000, 0.01)], solved=True)
    c = fake(seed=2, evals=[(2000, 3.0)], solved=None)  # still training; first evaluated at 2,000
    x, med, lo, hi = report.band([a, b, c])
    assert list(x) == [1000, 2000, 3000]
    # 1,000: a=4, b=6 (c not yet evaluated); 2,000: 2, 1, 3; 3,000: only b (solved) and... a stopped
    # unsolved at 2,000 and c is still at 2,000, so neither counts past its last evaluation.
    np.testing.assert_allclose(med, [5.0, 2.0, 0.01])
    np.testing.assert_allclose(lo, [4.0, 1.0, 0.01])
    np.testing.assert_allclose(hi, [6.0, 3.0, 0.01])


def test_a_solved_seed_keeps_its_cost_after_it_stopped():
    a = fake(seed=0, evals=[(1000, 0.01)], solved=True)
    b = fake(seed=1, evals=[(1000, 5.0), (2000, 3.0), (3000, 1.0)], solved=False)
    x, med, lo, hi = report.band([a, b])
    np.testing.assert_allclose(lo, [0.01, 0.01, 0.01])
    np.testing.assert_allclose(hi, [5.0, 3.0, 1.0])


def test_ngram_cost_is_the_excess_over_the_optimum_of_the_same_sequences():
    g = [{"label": "length 200", "length": 200, "cost_bits": 135.0, "optimal_cost_bits": 132.5, "bit_error_rate": 0.3}]
    done = fake("dynamic_ngrams", evals=[(1000, 140.0)], solved=False, generalisation=g)
    assert done.cost == pytest.approx(2.5)  # the generalisation record's own optimum
    running = fake("dynamic_ngrams", evals=[(1000, 140.0)])
    assert running.cost == pytest.approx(140.0 - report.NGRAM_OPTIMUM)  # a log without references
    # A log with each evaluation's own optimum: the last evaluation's excess over it.
    logged = fake("dynamic_ngrams", evals=[(1000, 140.0), (2000, 131.0)], last_excess=0.8)
    assert logged.cost == pytest.approx(0.8)
    assert report.verdict("dynamic_ngrams", "ntm-ff", [done]).startswith("**miss**")


def test_a_finished_priority_sort_cell_is_judged_by_its_best_checkpoint_on_fresh_sequences():
    g = [{"label": f"length {n}", "length": n, "cost_bits": float(n), "bit_error_rate": 0.1} for n in (10, 20, 30)]
    assert fake("priority_sort", evals=[(1000, 90.0)], solved=False, generalisation=g).cost == 20.0
    assert fake("priority_sort", evals=[(1000, 90.0)]).cost == 90.0  # still training: the last evaluation
    assert fake("copy", evals=[(1000, 0.01)], solved=True, generalisation=g).cost == 0.01  # a range of lengths


def test_verdicts():
    solved = [fake(seed=s, evals=[(1000, 9.0), (2000, 0.01)], solved=True) for s in range(2)]
    unsolved = fake(seed=2, evals=[(1000, 9.0)], solved=False)
    assert report.verdict("copy", "ntm-ff", solved + [unsolved]) == "**match** (2 of 3 seeds)"
    assert report.verdict("copy", "ntm-ff", [unsolved]) == "**miss** (0 of 1 seeds at the target)"
    assert report.verdict("copy", "ntm-ff", [fake(evals=[(1000, 9.0)])]).startswith("still training")
    assert report.verdict("priority_sort", "ntm-lstm", [fake("priority_sort", evals=[(1000, 20.0)], solved=False)]) \
        == "**match** (0 of 1 seeds)"  # the target is <= 20 bits
    short = fake(model="lstm", evals=[(50_000, 70.0)], solved=False)
    assert report.verdict("copy", "lstm", [short]) == "baseline; 1 of 1 seeds below 100,000 sequences"
    assert report.verdict("copy", "ntm-ff", [fake()]) == "not started"


def test_recipe_and_its_deviations_from_the_paper():
    cfg = reproduce.cell_config("repeat_copy", "ntm-lstm").resolved().to_dict()
    cell = fake("repeat_copy", "ntm-lstm", config=cfg)
    assert report.recipe(cell) == "centred RMSProp 0.0003, batch 1"
    assert report.deviations(cell) == ["lr 0.0003 (paper 0.0001)"]
    lstm = fake("repeat_copy", "lstm", config=reproduce.cell_config("repeat_copy", "lstm").resolved().to_dict())
    assert report.deviations(lstm) == ["optimiser adam", "lr 0.001 (paper 3e-05)", "batch 32"]


def test_reproduction_recipes():
    # Repeat copy trains without a curriculum, with batch-1 RMSProp for the NTMs only.
    for model in ("ntm-ff", "ntm-lstm"):
        cfg = reproduce.cell_config("repeat_copy", model).resolved()
        assert (cfg.optimizer, cfg.learning_rate, cfg.batch_size, cfg.curriculum) == ("rmsprop", 3e-4, 1, [])
    cfg = reproduce.cell_config("repeat_copy", "lstm").resolved()
    assert (cfg.optimizer, cfg.learning_rate, cfg.batch_size) == ("adam", 1e-3, 32)
    # Copy keeps the default preset's measured recipes; an explicit override still wins.
    assert reproduce.cell_config("copy", "ntm-lstm").resolved().learning_rate == 1e-3
    assert reproduce.cell_config("copy", "ntm-ff", learning_rate=0.1).resolved().learning_rate == 0.1
    assert reproduce.cell_config("priority_sort", "ntm-ff").sequences == paper.REPRODUCTION["priority_sort"].sequences


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """Two finished copy cells, and a third still training (a copy of one without its result)."""
    root = tmp_path_factory.mktemp("grid")
    for seed in (0, 1):
        reproduce.run_cell(root, "copy", "ntm-ff", seed, sequences=64, progress=False, train_overrides=TINY)
    shutil.copytree(root / "copy-ntm-ff-seed1", root / "copy-ntm-ff-seed2")
    (root / "copy-ntm-ff-seed2" / RESULT_FILE).unlink()
    (root / "notes.md").write_text("Why these recipes: measured.\n")
    (root / "not-a-cell").mkdir()
    (root / "copy-ntm-lstm-seed0").mkdir()  # created by the grid, not started: no config yet
    return root


def test_the_report_of_a_grid(grid, tmp_path):
    out = report.write_report(grid, tmp_path / "R.md")
    text = out.read_text()
    groups = report.collect(grid)
    assert list(groups) == [("copy", "ntm-ff")] and [c.seed for c in groups[("copy", "ntm-ff")]] == [0, 1, 2]
    assert [c.finished for c in groups[("copy", "ntm-ff")]] == [True, True, False]
    assert "| copy | NTM-FF | 0, 1, 2 (2) | Adam 0.003, batch 4 | 64 |" in text
    assert "Still training: copy NTM-FF." in text  # one seed is not finished and none solved
    assert "Why these recipes: measured." in text
    assert "| copy-ntm-ff-seed2 | 64 |" in text and "still training" in text
    for name in ("copy-learning.png", "copy-generalisation.png", "copy-memory.png"):
        path = tmp_path / "docs" / "reproduction" / name
        assert path.stat().st_size > 10_000 and f"(docs/reproduction/{name})" in text
    # Generalisation: the median over the two finished seeds at each of the paper's lengths.
    lengths = [g["length"] for g in groups[("copy", "ntm-ff")][0].generalisation]
    assert lengths == [10, 20, 30, 50, 120] and "| NTM-FF (2) |" in text


def test_the_learning_figure_draws_the_band_of_each_model(grid):
    groups = report.collect(grid)
    fig = report.learning_figure("copy", {"ntm-ff": groups[("copy", "ntm-ff")]})
    ax = fig.axes[0]
    x, med, _, _ = report.band(groups[("copy", "ntm-ff")])
    line = next(ln for ln in ax.get_lines() if ln.get_label().startswith("NTM-FF"))
    np.testing.assert_allclose(line.get_xdata(), x)
    np.testing.assert_allclose(line.get_ydata(), med)
    assert "median of 3 seeds" in line.get_label()
    assert ax.get_yscale() == "log" and any("target" in ln.get_label() for ln in ax.get_lines())


def test_the_command_writes_the_report_and_refuses_an_empty_grid(grid, tmp_path, capsys):
    assert cli.main(["reproduce", "--out", str(grid), "--report", str(tmp_path / "R.md"),
                     "--figures", str(tmp_path / "figs")]) == 0
    assert (tmp_path / "figs" / "copy-learning.png").exists() and "(figs/copy-learning.png)" in (tmp_path / "R.md").read_text()
    capsys.readouterr()
    (tmp_path / "empty").mkdir()
    assert cli.main(["reproduce", "--out", str(tmp_path / "empty"), "--report", str(tmp_path / "E.md")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no grid cells" in err[0] and not (tmp_path / "E.md").exists()
    # A cell whose config is corrupt is named, not silently left out.
    bad = tmp_path / "bad"
    shutil.copytree(grid / "copy-ntm-ff-seed0", bad / "copy-ntm-ff-seed0")
    (bad / "copy-ntm-ff-seed0" / "config.json").write_text("{")
    assert cli.main(["reproduce", "--out", str(bad), "--report", str(tmp_path / "B.md")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "copy-ntm-ff-seed0" in err[0] and not (tmp_path / "B.md").exists()
