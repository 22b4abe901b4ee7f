"""Run directories keep their meaning (ntm.runs): the model comes from what was saved, one writer at
a time, checksummed checkpoints, evaluations tied to the checkpoint they scored, the best
checkpoint beside the last, and nothing left behind by a run stopped before its first checkpoint.

Runs use the tiny setting of tests/test_train.py, so they share its compiled update.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from ntm import checkpoint, cli, paper
from ntm import training as T
from ntm.model import NTMConfig
from ntm.runs import BEST_FILE, CHECKPOINT_FILE, Run, RunError

from test_train import leaves, tiny  # the tiny setting of every training test


@pytest.fixture(scope="module")
def old_run(tmp_path_factory):
    """A run of 256 sequences, evaluated every 32 (a call of 8 updates each time)."""
    out = tmp_path_factory.mktemp("runs") / "run"
    result = T.train(tiny(sequences=256, eval_every=32, eval_batch=32, steps_per_call=8), out, progress=False)
    assert result.sequences == 256
    return out


def test_an_old_run_is_rebuilt_from_what_it_saved_not_from_todays_defaults(old_run, monkeypatch):
    before, _ = Run(old_run).load_model("last")
    inputs = jax.random.bernoulli(jax.random.key(5), 0.5, (2, 9, 9)).astype(np.float32)
    expected = np.asarray(before.run(inputs))
    # Today's defaults change: the paper's table (two heads instead of one) and a field's default.
    row = paper.PAPER[("copy", "ntm-ff")]
    monkeypatch.setitem(paper.PAPER, ("copy", "ntm-ff"), row._replace(model={**row.model, "read_heads": 2, "write_heads": 2}))
    fields = [f.name for f in dataclasses.fields(NTMConfig) if f.default is not dataclasses.MISSING]
    defaults = list(NTMConfig.__init__.__defaults__)
    defaults[fields.index("memory_init_value")] = 0.5
    monkeypatch.setattr(NTMConfig.__init__, "__defaults__", tuple(defaults))
    changed = T.read_config(old_run).model_config()  # what a new run of the saved settings would build
    assert (changed.read_heads, changed.memory_init_value) == (2, 0.5)

    after, info = Run(old_run).load_model("last")
    assert after.config == before.config and (after.config.read_heads, after.config.memory_init_value) == (1, 1e-6)
    np.testing.assert_array_equal(np.asarray(after.run(inputs)), expected)
    assert info.which == "last" and info.sequences == 256


def test_a_second_writer_is_refused_with_one_line(old_run, tmp_path, capsys):
    run = shutil.copytree(old_run, tmp_path / "run")
    with Run(run).lock():
        with pytest.raises(RunError, match="is being written by another process"):
            T.resume(run, sequences=512, progress=False)
    # ... and from another process, through the command line: exit 2, one line, nothing changed.
    hold = textwrap.dedent(f"""
        import sys, time
        from ntm.runs import Run
        with Run({str(run)!r}).lock():
            print("locked", flush=True)
            sys.stdin.read()
    """)
    holder = subprocess.Popen([sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = (run / CHECKPOINT_FILE).read_bytes()
        code = cli.main(["train", "--resume", str(run), "--sequences", "512", "--quiet"])
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.startswith("ntm: error: ")]
        assert code == 2 and len(lines) == 1 and f"(pid {holder.pid})" in lines[0], err
        assert (run / CHECKPOINT_FILE).read_bytes() == before
    finally:
        holder.communicate("", timeout=30)
    # Released when the writer ends: the run goes on.
    assert T.resume(run, sequences=288, progress=False).sequences == 288


def test_damage_inside_the_tensors_is_a_corrupt_checkpoint(old_run, tmp_path):
    run = shutil.copytree(old_run, tmp_path / "run")
    for name in (CHECKPOINT_FILE, BEST_FILE):
        data = bytearray((run / name).read_bytes())
        data[-3] ^= 0x01  # one bit of the last tensor; the header and its shapes are intact
        (run / name).write_bytes(bytes(data))
    for which in ("best", "last"):
        with pytest.raises(RunError, match="do not match their checksum"):
            Run(run).load_model(which)
    with pytest.raises(RunError, match="do not match their checksum"):
        T.resume(run, sequences=512, progress=False)


def test_evaluations_are_merged_per_checkpoint_and_a_stale_one_is_never_current(old_run, tmp_path, capsys):
    run = Run(shutil.copytree(old_run, tmp_path / "run"))
    assert run.evaluation("last") is None
    assert cli.main(["eval", str(run.path), "--checkpoint", "last", "--lengths", "3", "--batch-size", "8"]) == 0
    assert cli.main(["eval", str(run.path), "--checkpoint", "last", "--lengths", "5", "--batch-size", "8"]) == 0
    records, info = run.evaluation("last")
    assert [r["length"] for r in records] == [3, 5] and info.sequences == 256  # merged, not replaced
    # Training on changes the last checkpoint: its old evaluation stays in eval.json but is not current.
    T.resume(run.path, sequences=288, progress=False)
    assert run.evaluation("last") is None
    stored = json.loads((run.path / "eval.json").read_text())["evaluations"]
    assert [e["checkpoint"]["sequences"] for e in stored] == [256]
    # ntm plot says there is no current evaluation rather than drawing the old one.
    capsys.readouterr()
    assert cli.main(["plot", str(run.path), "--out", str(tmp_path / "c.png")]) == 0
    out, err = capsys.readouterr()
    assert out.split() == [str(tmp_path / "c.png")] and "no evaluation of the current checkpoint" in err
    # After --overwrite, nothing of the old run is left to be mistaken for the new one's.
    T.train(tiny(sequences=32, seed=1), run.path, progress=False, overwrite=True)
    assert not (run.path / "eval.json").exists() and run.evaluation("best") is None


def test_the_best_checkpoint_holds_the_parameters_of_the_lowest_evaluation(old_run):
    run = Run(old_run)
    evals = [r["eval_cost_bits"] for r in run.metrics() if np.isfinite(r["eval_cost_bits"])]
    assert len(evals) == 8
    best = checkpoint.read_meta(old_run / BEST_FILE)
    assert best["eval_cost"] == pytest.approx(min(evals))
    # The parameters are those that scored it: the training evaluation's own batch gives that cost again.
    model, info = run.load_model("best")
    assert info.which == "best" and info.eval_cost == best["eval_cost"]
    from ntm.training.step import evaluate_batch, loss_of

    task = run.task()
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(0), 2), best["step"])
    cost, _, reference = evaluate_batch(model, key, task, 32, loss_of(task), 1)
    assert float(cost) == pytest.approx(best["eval_cost"], rel=1e-5)
    assert np.isnan(reference) and "eval_excess" not in best  # copy has no reference cost
    if best["sequences"] != 256:  # the best was not the last: the two checkpoints differ
        last, _ = run.load_model("last")
        assert any(not np.array_equal(a, b) for a, b in zip(leaves(model), leaves(last)))


@pytest.mark.parametrize("stop", [KeyboardInterrupt, RuntimeError])
def test_a_run_stopped_before_its_first_checkpoint_blocks_nothing(stop, tmp_path, monkeypatch):
    from ntm.training import loop

    real = loop.run_updates

    def stopped(*args):
        raise stop("before the first update")

    monkeypatch.setattr(loop, "run_updates", stopped)
    out = tmp_path / "run"
    cfg = tiny(sequences=64)
    if stop is KeyboardInterrupt:
        assert T.train(cfg, out, progress=False).stop_reason == "interrupted"
    else:
        with pytest.raises(RuntimeError):
            T.train(cfg, out, progress=False)
    assert Run(out).exists() and not Run(out).has_checkpoint()
    monkeypatch.setattr(loop, "run_updates", real)
    # Both the same command and --resume go on: from the beginning, as an uninterrupted run would.
    resumed = T.resume(out, progress=False)
    again = T.train(cfg, tmp_path / "again", progress=False)
    assert resumed.sequences == again.sequences == 64
    for a, b in zip(leaves(resumed.model), leaves(again.model), strict=True):
        np.testing.assert_array_equal(a, b)
    (out / CHECKPOINT_FILE).unlink()
    (out / BEST_FILE).unlink()
    assert T.train(cfg, out, progress=False).sequences == 64  # the same command, no --overwrite needed


def test_a_shipped_model_is_a_run_directory(capsys):
    run = Run("shipped:copy")
    assert run.shipped and run.task_name == "copy" and run.model_name == "ntm-ff"
    model, info = run.load_model()
    assert info.which == "best" and info.sequences == 50_176
    code = cli.main(["eval", "shipped:copy", "--lengths", "20", "--batch-size", "16"])
    out, err = capsys.readouterr()
    assert code == 0 and "not saved: shipped models are read-only" in err
    assert float(out.splitlines()[2].split()[1]) < 0.05  # solved: under 0.05 bits per sequence
    with pytest.raises(RunError, match="no shipped model 'sorting'"):
        Run("shipped:sorting")


def test_train_config_from_json(tmp_path, old_run):
    cfg = T.TrainConfig.from_json(old_run / "config.json")  # a run's config.json ...
    assert cfg == T.read_config(old_run)
    (tmp_path / "c.json").write_text(json.dumps({"task": "copy", "sequences": 10}))  # ... or fields alone
    assert T.TrainConfig.from_json(tmp_path / "c.json").sequences == 10
    (tmp_path / "bad.json").write_text(json.dumps({"task": "copy", "sequencez": 10}))
    with pytest.raises(ValueError, match="unknown field.*sequencez"):
        T.TrainConfig.from_json(tmp_path / "bad.json")


def test_a_run_of_the_first_format_resumes(old_run, tmp_path):
    # Runs written before config.json had its task, fit and seed sections: the TrainConfig and the
    # model section alone, task_args as given ({}), and checkpoints without checksums.
    run = shutil.copytree(old_run, tmp_path / "run")
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({"train": config["train"], "model": config["model"]}))
    assert config["train"]["task_args"] == {}
    from safetensors.numpy import load_file, save_file

    meta = checkpoint.read_meta(run / CHECKPOINT_FILE)
    del meta["sha256"]
    save_file(load_file(str(run / CHECKPOINT_FILE)), str(run / CHECKPOINT_FILE), metadata={"meta": json.dumps(meta)})
    (run / BEST_FILE).unlink()
    whole = T.train(tiny(sequences=288, eval_every=32, eval_batch=32, steps_per_call=8), tmp_path / "whole", progress=False)
    resumed = T.resume(run, sequences=288, progress=False)
    assert resumed.sequences == 288
    for a, b in zip(leaves(whole.model), leaves(resumed.model), strict=True):
        np.testing.assert_array_equal(a, b)
    assert json.loads((run / "config.json").read_text())["format"] == 2  # rewritten in the current format


def test_a_training_log_begun_before_the_reference_column_reads_and_grows(tmp_path):
    """metrics.csv files written before ``eval_reference_bits`` existed: read with the column
    empty (NaN), rewritten once with every column when a resumed run appends to them, and cut
    back on resume like any other."""
    run = Run(tmp_path)
    old = ("sequences,cost_bits,bit_errors,eval_cost_bits,seq_per_s,wall_time,skipped\n"
           "64,3.5,1.0,,100.0,0.6,0\n128,3.0,0.5,2.5,100.0,1.2,0\n")
    (tmp_path / "metrics.csv").write_text(old)
    rows = run.metrics()
    assert [r["eval_cost_bits"] for r in rows][1] == 2.5 and all(np.isnan(r["eval_reference_bits"]) for r in rows)
    assert [r["sequences"] for r in run.kept_metrics(64)] == ["64"]
    run.append_metrics({"sequences": 192, "cost_bits": 2.0, "bit_errors": 0.25, "eval_cost_bits": 140.0,
                        "eval_reference_bits": 133.0, "seq_per_s": 100.0, "wall_time": 1.8, "skipped": 0})
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert lines[0].endswith(",skipped,eval_reference_bits") and len(lines) == 4
    rows = run.metrics()
    assert [r["sequences"] for r in rows] == [64, 128, 192] and rows[1]["eval_cost_bits"] == 2.5
    assert np.isnan(rows[1]["eval_reference_bits"]) and rows[2]["eval_reference_bits"] == 133.0
    # A log missing one of the first columns is still corrupt.
    (tmp_path / "metrics.csv").write_text("sequences,cost_bits\n64,3.5\n")
    with pytest.raises(RunError, match="corrupt training log"):
        run.metrics()
