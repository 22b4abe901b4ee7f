"""Tests for ntm.reproduce: a grid cell trains, evaluates and records once; it resumes after an
interruption and continues when given a larger time budget; the summary table shows every cell.

Cells use the tiny setting of tests/test_train.py (copy, memory 16 x 8, controller 16, batch 4),
so they share its compiled update.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ntm import paper, reproduce
from ntm import training as T
from ntm.runs import CHECKPOINT_FILE, Run

TINY = dict(model_args=dict(memory_rows=16, memory_width=8, controller_size=16), batch_size=4, optimizer="adam",
            learning_rate=3e-3)


def cell(root, **kw):
    return reproduce.run_cell(root, "copy", "ntm-ff", 0, progress=False, train_overrides=TINY, **kw)


def test_a_cell_trains_evaluates_and_is_then_final(tmp_path):
    record = cell(tmp_path, sequences=64)
    out = tmp_path / "copy-ntm-ff-seed0"
    assert record["sequences"] == 64 and record["stop_reason"] == "budget"
    assert [g["length"] for g in record["generalisation"]] == [10, 20, 30, 50, 120]
    assert all(g["cost_bits"] >= 0 for g in record["generalisation"])
    assert json.loads((out / reproduce.RESULT_FILE).read_text()) == record
    # Run again with the same budget (or no more time): the cell is final; nothing is touched.
    stamp = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert cell(tmp_path, sequences=64) == record
    assert cell(tmp_path, sequences=128, time_budget=record["wall_time"]) == record
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == stamp
    table = reproduce.summary_table([record])
    assert "| copy | ntm-ff | 0 |" in table and "120: " in table


def test_a_cell_stopped_by_its_time_budget_continues_with_a_larger_one(tmp_path):
    first = cell(tmp_path, sequences=400, time_budget=1e-6)  # stops after its first call
    assert first["stop_reason"] == "time budget" and 0 < first["sequences"] < 400
    assert cell(tmp_path, sequences=400, time_budget=1e-6) == first  # no more time: final
    second = cell(tmp_path, sequences=400, time_budget=None)
    assert second["stop_reason"] == "budget" and second["sequences"] == 400
    assert T.read_config(tmp_path / "copy-ntm-ff-seed0").time_budget is None


def test_a_cell_that_ran_its_sequence_budget_continues_with_a_larger_one(tmp_path):
    first = cell(tmp_path, sequences=64)
    second = cell(tmp_path, sequences=128)
    assert second["stop_reason"] == "budget" and second["sequences"] == 128
    assert [r["sequences"] for r in Run(tmp_path / "copy-ntm-ff-seed0").metrics()][-1] == 128
    assert second["wall_time"] > first["wall_time"]


def test_a_solved_cell_is_final(tmp_path, monkeypatch):
    monkeypatch.setitem(paper.REPRODUCTION, "copy", paper.Reproduction(100_000, 1e9))  # solved at once
    first = cell(tmp_path, sequences=2000)  # evaluated every 1,000 sequences
    assert first["solved"] and first["stop_reason"] == "solved" and first["sequences"] < 2000
    assert cell(tmp_path, sequences=4000, time_budget=None) == first


def test_an_interrupted_cell_is_checkpointed_and_resumes(tmp_path, monkeypatch):
    from ntm.training import loop

    calls = []
    real = loop.run_updates

    def ctrl_c_in_the_second_call(*args):
        # The first call of 64 updates trains as usual; Ctrl-C comes during the second.
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(loop, "run_updates", ctrl_c_in_the_second_call)
    with pytest.raises(KeyboardInterrupt):
        cell(tmp_path, sequences=512)
    out = tmp_path / "copy-ntm-ff-seed0"
    assert not (out / reproduce.RESULT_FILE).exists() and (out / CHECKPOINT_FILE).exists()
    assert Run(out).metrics()[-1]["sequences"] == 256  # checkpointed after the first call
    monkeypatch.undo()
    record = cell(tmp_path, sequences=512)
    assert record["sequences"] == 512 and (out / reproduce.RESULT_FILE).exists()


def test_the_seeds_of_a_cell_train_as_one_ensemble_into_their_own_cells(tmp_path):
    records = reproduce.reproduce(tmp_path, ["copy"], ["ntm-ff"], [0, 1], time_budget=None, sequences=64,
                                  progress=False, train_overrides=TINY, ensembles=True)
    assert [(r["seed"], r["sequences"], r["stop_reason"]) for r in records] == [(0, 64, "budget"), (1, 64, "budget")]
    for seed, record in zip((0, 1), records):
        run = Run(tmp_path / f"copy-ntm-ff-seed{seed}")
        assert run.seed == seed and run.config["ensemble"]["seeds"] == [0, 1]
        assert json.loads((run.path / reproduce.RESULT_FILE).read_text()) == record
        assert [g["length"] for g in record["generalisation"]] == [10, 20, 30, 50, 120]
    assert records[0]["eval_cost"] != records[1]["eval_cost"]  # two models, not one twice
    # finished: the grid again returns the records and trains nothing
    again = reproduce.reproduce(tmp_path, ["copy"], ["ntm-ff"], [0, 1], time_budget=None, sequences=64,
                                progress=False, train_overrides=TINY, ensembles=True)
    assert again == records


def test_ensembles_group_the_seeds_of_a_model_but_not_the_lstm_and_a_cell_resumes_as_it_began(tmp_path):
    def grouping(tasks, models, **kw):
        jobs = reproduce.grid_jobs(tmp_path, tasks, models, [0, 1, 2], **kw)
        return [[Path(d).name for d in job.dirs] for job in jobs]

    assert grouping(["copy"], ["ntm-ff", "lstm"], ensembles=True) == [
        ["copy-ntm-ff-seed0", "copy-ntm-ff-seed1", "copy-ntm-ff-seed2"],
        ["copy-lstm-seed0"], ["copy-lstm-seed1"], ["copy-lstm-seed2"]]
    assert grouping(["copy"], ["ntm-ff"]) == [["copy-ntm-ff-seed0"], ["copy-ntm-ff-seed1"], ["copy-ntm-ff-seed2"]]
    # A cell begun as a lone run resumes as one, with --ensembles or not; an ensemble's member
    # resumes in its ensemble, for the LSTM too.
    alone = tmp_path / "alone"
    reproduce.run_cell(alone, "copy", "ntm-ff", 1, sequences=16, progress=False, train_overrides=TINY)
    jobs = reproduce.grid_jobs(alone, ["copy"], ["ntm-ff"], [0, 1], ensembles=True, train_overrides=TINY)
    assert [len(j.dirs) for j in jobs] == [1, 1]
    members = tmp_path / "members"
    reproduce.reproduce(members, ["copy"], ["ntm-ff"], [0, 1], time_budget=None, sequences=16, progress=False,
                        train_overrides=TINY, ensembles=True)
    for d in members.iterdir():
        d.rename(members / d.name.replace("ntm-ff", "lstm"))
    jobs = reproduce.grid_jobs(members, ["copy"], ["lstm"], [0, 1], train_overrides=TINY)
    assert [len(j.dirs) for j in jobs] == [2]
