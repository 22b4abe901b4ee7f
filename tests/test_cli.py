"""Tests for the ``ntm`` command line (``ntm.cli.main``) and the pictures of ``ntm.viz``.

One tiny run (copy, memory 16 x 8, controller 16, batch 4, 128 sequences: the settings of
tests/test_train.py, so the training step compiles once per session) is trained through the CLI and
then evaluated, plotted, shown and resumed.  Every bad input must give exit status 2 and one line
``ntm: error: ...`` on stderr, and leave existing run directories exactly as they were.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from ntm import checkpoint, cli, fast, presets, viz
from ntm import training as T

TINY_FLAGS = ["--memory-rows", "16", "--memory-width", "8", "--controller-size", "16", "--batch-size", "4",
              "--optimizer", "adam", "--lr", "3e-3", "--target-cost", "none"]
PNG = b"\x89PNG\r\n\x1a\n"


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and modification time (the lock file, which holds its holder's pid, aside)."""
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())
        if p.is_file() and p.name != ".lock"
    }


def checkpoint_meta(run: Path) -> dict:
    return checkpoint.read_meta(run / "checkpoint.safetensors")


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "copy-run"
    assert cli.main(["train", "copy", *TINY_FLAGS, "--sequences", "128", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture
def run_copy(run, tmp_path) -> Path:
    return Path(shutil.copytree(run, tmp_path / "run"))


# The happy path --------------------------------------------------------------------------------


def test_train_writes_a_run_directory(run):
    names = {p.name for p in run.iterdir()}
    assert {"config.json", "metrics.csv", "checkpoint.safetensors"} <= names
    assert any(n.startswith("events.out.tfevents") for n in names)
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["memory_rows"] == 16 and config["model"]["controller_size"] == 16
    assert config["train"]["batch_size"] == 4 and config["train"]["target_cost"] is None
    assert checkpoint_meta(run)["sequences"] == 128 and T.read_config(run).sequences == 128
    assert (run / "best.safetensors").is_file()


def test_train_flags_reach_the_config(tmp_path, monkeypatch, capsys):
    # T.train replaced: this checks the mapping from flags to TrainConfig without training.
    seen = {}

    def fake_train(cfg, out, progress=True, overwrite=False):
        seen.update(cfg=cfg, out=out, progress=progress, overwrite=overwrite)
        return T.FitResult(None, None, 64, 1.0, 0.01, 0.01, True, "solved", None)

    monkeypatch.setattr(T, "train", fake_train)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(
        capsys, "train", "repeat-copy", "--model", "ntm-lstm", "--preset", "paper", "--seed", "3", "--heads", "2",
        "--controller-size", "20", "--memory-rows", "32", "--memory-width", "10", "--memory-init", "learned",
        "--lr", "1e-3", "--optimizer", "adam", "--grad-clip", "5", "--sequences", "64", "--batch-size", "2",
        "--target-cost", "0.5", "--time-budget", "30", "--max-skipped", "7", "--quiet", "--overwrite",
    )
    assert code == 0 and out.startswith("solved") and seen["overwrite"] is True
    cfg = seen["cfg"]
    assert seen["out"] == Path("runs/repeat_copy-ntm-lstm-paper-seed3") and seen["progress"] is False
    assert (cfg.task, cfg.model, cfg.preset, cfg.seed) == ("repeat_copy", "ntm-lstm", "paper", 3)
    assert (cfg.learning_rate, cfg.optimizer, cfg.grad_clip, cfg.batch_size) == (1e-3, "adam", 5.0, 2)
    assert (cfg.sequences, cfg.target_cost, cfg.time_budget, cfg.max_skipped) == (64, 0.5, 30.0, 7)
    model = cfg.model_config()
    assert (model.read_heads, model.write_heads, model.controller_size) == (2, 2, 20)
    assert (model.memory_rows, model.memory_width, model.memory_init) == (32, 10, "learned")

    # Curriculum stages: SEQUENCES:FIELD=VALUE, ranges as LO-HI, in the order given.
    code, _, _ = run_cli(
        capsys, "train", "repeat_copy", "--stage", "3_000:train_repeats=1-2,repeat_norm=5",
        "--stage", "6000:train_repeats=1-4",
    )
    assert code == 0 and seen["cfg"].curriculum == [
        {"until": 3000, "task_args": {"train_repeats": [1, 2], "repeat_norm": 5}},
        {"until": 6000, "task_args": {"train_repeats": [1, 4]}},
    ]
    for bad in ("many:train_repeats=1-2", "100:train_repeats", "100:train_repeats=a-b"):
        code, _, err = run_cli(capsys, "train", "repeat_copy", "--stage", bad)
        assert code == 2 and "--stage" in err
    code, _, err = run_cli(capsys, "train", "repeat_copy", "--stage", "100:train_repeats=0-2")
    assert code == 2 and "curriculum[0].task_args" in err and "train_repeats" in err

    code, _, _ = run_cli(capsys, "train", "copy", "--lr-from", "1000:1e-4", "--lr-from", "2_000:3e-5")
    assert code == 0 and seen["cfg"].lr_schedule == [
        {"from": 1000, "learning_rate": 1e-4}, {"from": 2000, "learning_rate": 3e-5}
    ]
    code, _, err = run_cli(capsys, "train", "copy", "--lr-from", "1000")
    assert code == 2 and "SEQUENCES:LR" in err

    # The LSTM baseline's size is its hidden size; the preset fills what is not given.
    code, _, _ = run_cli(capsys, "train", "copy", "--model", "lstm", "--controller-size", "64")
    assert code == 0
    assert seen["cfg"].model_config().hidden_size == 64 and seen["out"] == Path("runs/copy-lstm-seed0")
    assert (seen["cfg"].optimizer, seen["cfg"].batch_size, seen["cfg"].target_cost) == ("adam", 8, 0.05)


def test_eval_prints_a_table_and_json_and_saves_records(run_copy, capsys):
    code, out, _ = run_cli(capsys, "eval", run_copy, "--lengths", "3,5", "--batch-size", "8")
    assert code == 0
    lines = out.splitlines()
    assert "cost (bits/seq)" in lines[1] and "bit-error rate" in lines[1]
    assert [line.split()[0] for line in lines[2:]] == ["3", "5"]

    code, out, _ = run_cli(capsys, "eval", run_copy, "--lengths", "3,5", "--batch-size", "8", "--json")
    assert code == 0
    records = json.loads(out)
    assert [r["length"] for r in records] == [3, 5]
    for r in records:
        assert {"length", "cost_bits", "bit_errors", "bit_error_rate"} <= set(r)
        assert 0 <= r["bit_error_rate"] <= 1 and r["cost_bits"] > 0
        # An untrained-ish model: about one bit per scored bit, and the errors agree with the rate.
        assert r["bit_errors"] == pytest.approx(r["bit_error_rate"] * r["length"] * 8)
    # Stored with the checkpoint it scored (the best one), merged with the table's run: one entry.
    saved = json.loads((run_copy / "eval.json").read_text())["evaluations"]
    assert len(saved) == 1 and saved[0]["records"] == records
    assert saved[0]["checkpoint"]["which"] == "best" and saved[0]["checkpoint"]["sequences"] == 128


def test_plot_draws_learning_and_generalisation_curves(run_copy, tmp_path, capsys):
    code, out, err = run_cli(capsys, "plot", run_copy)
    assert code == 0 and "ntm eval" in err  # no evaluation yet: says how to get one
    assert out.split() == [str(run_copy / "learning_curves.png")]
    assert (run_copy / "learning_curves.png").read_bytes().startswith(PNG)

    assert run_cli(capsys, "eval", run_copy, "--lengths", "3,5", "--batch-size", "8")[0] == 0
    other = Path(shutil.copytree(run_copy, tmp_path / "other"))
    config = json.loads((other / "config.json").read_text())
    config["train"]["learning_rate"] = 1e-3
    (other / "config.json").write_text(json.dumps(config))
    target = tmp_path / "figs" / "both.png"
    code, out, _ = run_cli(capsys, "plot", run_copy, other, "--out", target, "--log-y", "--smooth", "2")
    assert code == 0
    assert out.split() == [str(target), str(tmp_path / "figs" / "both_generalisation.png")]
    for path in out.split():
        assert Path(path).read_bytes().startswith(PNG)


def test_show_draws_memory_access(run, tmp_path, capsys):
    target = tmp_path / "memory.png"
    code, out, _ = run_cli(capsys, "show", run, "--length", "4", "--out", target, "--seed", "1")
    assert code == 0 and out.strip() == str(target)
    assert target.read_bytes().startswith(PNG)


def test_resume_continues_with_a_progress_bar(run_copy, capsys):
    code, out, err = run_cli(capsys, "train", "--resume", run_copy, "--sequences", "256")
    assert code == 0 and "256 sequences" in out
    assert "cost=" in err and "errors=" in err and "seq_s=" in err  # the live progress bar
    assert checkpoint_meta(run_copy)["sequences"] == 256


def test_help(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0 and "examples:" in out and "ntm train copy" in out
    for command in ("train", "eval", "plot", "show", "program", "view"):
        code, out, _ = run_cli(capsys, command, "--help")
        assert code == 0 and "example" in out, command


# Bad input: exit 2, one line on stderr, nothing changed ------------------------------------------


@pytest.fixture(scope="module")
def broken(run, tmp_path_factory) -> dict[str, Path]:
    """Run directories damaged in different ways (copies of ``run``)."""
    root = tmp_path_factory.mktemp("broken")
    dirs = {name: Path(shutil.copytree(run, root / name)) for name in
            ("ok", "bad_config", "bad_checkpoint", "incompatible", "no_checkpoint", "no_metrics", "bad_eval", "lstm")}
    (dirs["bad_config"] / "config.json").write_text("{not json")
    for name in ("checkpoint.safetensors", "best.safetensors"):
        data = (dirs["bad_checkpoint"] / name).read_bytes()
        (dirs["bad_checkpoint"] / name).write_bytes(data[: len(data) // 2])
    config = json.loads((dirs["incompatible"] / "config.json").read_text())
    config["model"]["memory_width"] = 12  # the model is rebuilt from this section
    (dirs["incompatible"] / "config.json").write_text(json.dumps(config))
    (dirs["no_checkpoint"] / "checkpoint.safetensors").unlink()  # (its best checkpoint cannot be resumed)
    (dirs["no_metrics"] / "metrics.csv").unlink()
    (dirs["bad_eval"] / "eval.json").write_text("{")
    lstm = T.TrainConfig(task="copy", model="lstm", model_args={"hidden_size": 8, "layers": 1}).resolved()
    (dirs["lstm"] / "config.json").write_text(json.dumps(
        {"train": lstm.to_dict(), "model": presets.config_to_dict(lstm.model_config())}
    ))
    dirs["empty"] = root / "empty"
    dirs["empty"].mkdir()
    dirs["missing"] = root / "missing"
    return dirs


BAD = [
    (["train", "sorting", "--out", "{new}"], "unknown task 'sorting'"),
    (["train", "copy", "--model", "gru", "--out", "{new}"], "invalid choice: 'gru'"),
    (["train", "copy", "--memory-rows", "0", "--out", "{new}"], "memory_rows must be a positive integer"),
    (["train", "copy", "--memory-rows", "2", "--out", "{new}"], "shift_width"),
    (["train", "copy", "--heads", "0", "--out", "{new}"], "read_heads"),
    (["train", "copy", "--batch-size", "0", "--out", "{new}"], "batch_size must be a positive integer"),
    (["train", "copy", "--sequences", "ten", "--out", "{new}"], "invalid int value: 'ten'"),
    (["train", "copy", "--lr", "-1", "--out", "{new}"], "learning_rate must be > 0"),
    (["train", "copy", "--model", "lstm", "--memory-rows", "8", "--out", "{new}"], "lstm baseline has no memory"),
    (["train", "copy", "--out", "{ok}"], "already holds a run"),
    (["train"], "give a TASK"),
    (["train", "--resume", "{ok}", "--lr", "0.1"], "only --sequences and the stopping"),
    (["train", "--resume", "{ok}", "--sequences", "0"], "sequences must be a positive integer"),
    (["train", "--resume", "{missing}"], "no run directory"),
    (["train", "--resume", "{bad_checkpoint}", "--sequences", "999"], "corrupt checkpoint"),
    (["train", "--resume", "{incompatible}", "--sequences", "999"], "the configuration needs"),
    (["train", "--resume", "{no_checkpoint}"], "no checkpoint"),
    (["eval", "{missing}"], "no run directory"),
    (["eval", "{empty}"], "config.json is missing"),
    (["eval", "{bad_config}"], "corrupt"),
    (["eval", "{bad_checkpoint}"], "corrupt checkpoint"),
    (["eval", "{incompatible}"], "the configuration needs"),
    (["eval", "{ok}", "--repeats", "3"], "repeat_copy only"),
    (["eval", "{ok}", "--lengths", "0"], "length must be >= 1"),
    (["eval", "{ok}", "--lengths", "x"], "expected sizes"),
    (["eval", "{ok}", "--batch-size", "0"], "batch-size"),
    (["plot", "{empty}"], "config.json is missing"),
    (["plot", "{no_metrics}"], "no training log"),
    (["plot", "{bad_eval}"], "corrupt"),  # and no learning_curves.png is drawn in it
    (["show", "{lstm}"], "no memory"),
    (["show", "{ok}", "--length", "0"], "length must be >= 1"),
    (["show", "{missing}"], "no run directory"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "choose a command"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a) or "nothing" for a, _ in BAD])
def test_bad_input_exits_2_with_one_line_and_changes_nothing(broken, tmp_path, capsys, argv, message):
    paths = {**{k: str(v) for k, v in broken.items()}, "new": str(tmp_path / "new")}
    before = {name: snapshot(d) for name, d in broken.items() if d.is_dir()}
    code, out, err = run_cli(capsys, *(a.format(**paths) for a in argv))
    assert code == 2
    lines = [line for line in err.splitlines() if line.startswith("ntm: error: ")]
    assert len(lines) == 1 and message in lines[0], err
    assert {name: snapshot(d) for name, d in broken.items() if d.is_dir()} == before
    assert not (tmp_path / "new").exists() and not broken["missing"].exists()


# ntm.viz directly --------------------------------------------------------------------------------


def test_plot_generalisation_groups_repeats_and_skips_ranges(tmp_path):
    records = [
        {"length": [1, 10], "repeats": [1, 10], "cost_bits": 0.1, "bit_error_rate": 0.0},
        {"length": 10, "repeats": 10, "cost_bits": 1.0, "bit_error_rate": 0.01},
        {"length": 20, "repeats": 10, "cost_bits": 5.0, "bit_error_rate": 0.05},
        {"length": 10, "repeats": 20, "cost_bits": 2.0, "bit_error_rate": 0.02},
    ]
    path = viz.plot_generalisation({"ntm-ff": records, "lstm": records[1:2]}, tmp_path / "g.png", log_y=True)
    assert path.read_bytes().startswith(PNG)


def test_plot_memory_access_wants_one_sequence(tmp_path):
    from ntm import NTMTrace

    T_, R, W, N, M = 5, 2, 1, 6, 3
    trace = NTMTrace(
        read_w=np.full((T_, R, N), 1 / N), write_w=np.full((T_, W, N), 1 / N), reads=np.zeros((T_, R, M)),
        add=np.zeros((T_, W, M)), erase=None, read_gate=None, write_gate=None, read_shift=None,
        write_shift=None, read_gamma=None, write_gamma=None, read_beta=None, write_beta=None, memory=None,
    )
    path = viz.plot_memory_access(np.zeros((T_, 4)), np.zeros((T_, 3)), np.zeros((T_, 3)), trace, tmp_path / "m.png")
    assert path.read_bytes().startswith(PNG)
    with pytest.raises(ValueError, match="one sequence"):
        viz.plot_memory_access(np.zeros((2, T_, 4)), None, None, trace, tmp_path / "x.png")


def test_smoothing_keeps_length_and_ignores_skipped_rows():
    for n in (1, 2, 3, 10):
        assert viz._smooth(np.arange(n, dtype=float), 5).shape == (n,)
    np.testing.assert_allclose(viz._smooth(np.array([1.0, np.nan, 3.0, 5.0]), 3), [1.0, 2.0, 4.0, 4.0])


def test_train_keeps_compiled_programs_in_the_cache_folder(tmp_path):
    # In a fresh process (jax reads the cache setting once): the first run stores its compiled
    # training update, and a second identical run finds it there instead of adding another.
    import os
    import subprocess
    import sys

    cache = tmp_path / "cache"
    env = {**os.environ, "NTM_COMPILATION_CACHE": str(cache)}
    argv = [sys.executable, "-m", "ntm.cli", "train", "copy", *TINY_FLAGS, "--sequences", "8",
            "--out", str(tmp_path / "run"), "--quiet"]
    def cached_updates():
        return sorted(p.name for p in cache.iterdir() if p.name.startswith("jit_run_updates"))

    subprocess.run(argv, env=env, check=True, capture_output=True)
    first = cached_updates()
    assert len(first) == 1, first  # the compiled training update
    shutil.rmtree(tmp_path / "run")
    subprocess.run(argv, env=env, check=True, capture_output=True)
    assert cached_updates() == first
    assert cli.compilation_cache_dir() is None  # the test suite itself runs with the cache off


def test_sigterm_checkpoints_and_stops_a_background_run(tmp_path):
    # `kill PID` on a run started with `nohup ... &` (where the shell ignores SIGINT) must leave a
    # checkpoint to resume from, as Ctrl-C does.
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    argv = [sys.executable, "-m", "ntm.cli", "train", "copy", *TINY_FLAGS, "--sequences", "10000000",
            "--out", str(out), "--quiet"]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    deadline = time.monotonic() + 600
    while not (out / "metrics.csv").exists() or len((out / "metrics.csv").read_text().splitlines()) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, "the run did not start"
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == cli.EXIT_INTERRUPTED, err
    assert "ntm train --resume" in err
    assert checkpoint_meta(out)["sequences"] > 0


def test_python_dash_m_ntm_and_the_lazy_submodules():
    import subprocess
    import sys

    import ntm

    assert ntm.training is T and ntm.viz is viz and "evaluate" in dir(ntm) and "runs" in dir(ntm)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ntm.nope  # noqa: B018
    proc = subprocess.run([sys.executable, "-m", "ntm", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "ntm" in proc.stdout and "train" in proc.stdout


def test_only_lstm_baseline_commands_keep_the_default_cpu_thread_pool(tmp_path):
    parse = cli._parser().parse_args

    def baseline_only(argv):  # what the command will train, as main reads it before JAX starts
        plan = cli._training_plan(parse(argv))
        return fast.training_devices(None if plan is None else plan.models, None if plan is None else plan.batch_size,
                                     cores=2) is None

    assert baseline_only(["train", "copy", "--model", "lstm"])
    assert not baseline_only(["train", "copy"])
    assert baseline_only(["reproduce", "--models", "lstm"])
    assert not baseline_only(["reproduce", "--models", "lstm,ntm-ff"])
    assert not baseline_only(["reproduce"])  # every model
    assert not baseline_only(["demo", "copy"])
    run = tmp_path / "run"
    run.mkdir()
    lstm = T.TrainConfig(task="copy", model="lstm").resolved()
    (run / "config.json").write_text(json.dumps(
        {"train": lstm.to_dict(), "model": presets.config_to_dict(lstm.model_config())}
    ))
    assert baseline_only(["train", "--resume", str(run)])
    assert not baseline_only(["train", "--resume", str(tmp_path / "missing")])
    # The NTMs' devices: one per core the batch splits over.
    assert fast.training_devices({"ntm-ff"}, 8, cores=2) == 2 and fast.training_devices({"ntm-ff"}, 1, cores=2) == 1
    assert fast.training_devices({"ntm-ff", "lstm"}, 3, cores=2) == 1 and fast.training_devices(None, None) == 1


# After the first run (issue: commands that trip over each other, and what they print) -------------


def test_the_same_command_twice_continues_its_run_and_other_settings_get_their_own(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    first = ["train", "copy", *TINY_FLAGS, "--sequences", "64", "--quiet"]
    assert run_cli(capsys, *first)[0] == 0
    code, out, err = run_cli(capsys, *first)  # again: nothing left to do, and it says so
    assert code == 0 and "nothing to train in runs/copy-ntm-ff-seed0" in out and "larger --sequences" in out
    code, out, err = run_cli(capsys, *first[:-3], "--sequences", "128", "--quiet")  # a larger budget: continues
    assert code == 0 and "continuing it" in err and out.startswith("sequence budget spent: 128 sequences")
    code, out, _ = run_cli(capsys, "train", "copy", *TINY_FLAGS, "--sequences", "8", "--preset", "paper", "--quiet")
    assert code == 0 and "runs/copy-ntm-ff-paper-seed0" in out
    code, out, _ = run_cli(capsys, "train", "copy", *TINY_FLAGS, "--sequences", "64", "--lr", "1e-3", "--quiet")
    assert code == 0 and "runs/copy-ntm-ff-seed0-2" in out  # other settings, the same name taken
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "copy-ntm-ff-paper-seed0", "copy-ntm-ff-seed0", "copy-ntm-ff-seed0-2"]


def test_resume_of_a_solved_run_trains_nothing_and_rewrites_nothing(run_copy, capsys):
    config = json.loads((run_copy / "config.json").read_text())
    config["train"]["target_cost"] = config["fit"]["target_cost"] = 1e9  # its last evaluation meets it
    (run_copy / "config.json").write_text(json.dumps(config))
    before = snapshot(run_copy)
    code, out, _ = run_cli(capsys, "train", "--resume", run_copy, "--sequences", "50000")
    assert code == 0 and "nothing to train" in out and "it is solved" in out and "--target-cost none" in out
    assert snapshot(run_copy) == before


def test_next_hints_are_shell_quoted_and_fit_the_model(tmp_path, capsys):
    out_dir = tmp_path / "my runs" / "a b"
    code, out, _ = run_cli(capsys, "train", "copy", *TINY_FLAGS, "--sequences", "8", "--out", out_dir, "--quiet")
    assert code == 0 and f"next: ntm eval '{out_dir}'" in out and f"ntm show '{out_dir}'" in out
    from ntm import cli as c

    c._print_next(Path("runs/copy-lstm-seed0"), "lstm")  # the baseline has no memory to show
    hint = capsys.readouterr().out
    assert "ntm eval runs/copy-lstm-seed0" in hint and "show" not in hint and "program" not in hint


def test_the_progress_bar_promises_no_total_when_a_target_can_stop_the_run(tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", "copy", *TINY_FLAGS[:-2], "--target-cost", "0.01", "--sequences", "64",
                           "--out", tmp_path / "run")
    assert code == 0 and "until < 0.01 bits or 64 seq" in err and "%|" not in err  # no percentage, no ETA
    code, _, err = run_cli(capsys, "train", "copy", *TINY_FLAGS, "--sequences", "64", "--out", tmp_path / "run2")
    assert code == 0 and "100%|" in err  # a budget alone: the total is known


def test_eval_prints_nothing_before_the_checkpoint_loads_and_names_the_file_it_cannot_write(
    run_copy, tmp_path, monkeypatch, capsys
):
    data = (run_copy / "best.safetensors").read_bytes()
    broken = Path(shutil.copytree(run_copy, tmp_path / "broken"))
    (broken / "best.safetensors").write_bytes(data[: len(data) // 2])
    code, out, err = run_cli(capsys, "eval", broken, "--lengths", "3")
    assert code == 2 and out == "" and "corrupt checkpoint" in err
    from ntm.runs import Run

    def read_only(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self.path / "eval.json.tmp"))

    monkeypatch.setattr(Run, "add_evaluation", read_only)
    code, out, err = run_cli(capsys, "eval", run_copy, "--lengths", "3", "--batch-size", "8")
    assert code == 0 and out.splitlines()[2].split()[0] == "3"  # the table is the result
    assert f"could not save the evaluation in {run_copy / 'eval.json'}: Permission denied" in err
    assert ".tmp" not in err


def test_program_and_view_help_say_what_the_user_gets_and_open_shipped_models(tmp_path, capsys):
    for command in ("program", "view"):
        code, out, _ = run_cli(capsys, command, "--help")
        assert code == 0 and "ntm.program" not in out and "ntm.viewer" not in out and "shipped:copy" in out
    code, out, _ = run_cli(capsys, "program", "shipped:copy", "--length", "5")
    assert code == 0 and out.startswith("copy / ntm-ff: memory 128 x 20") and "best checkpoint (50,176 sequences" in out
    code, out, _ = run_cli(capsys, "view", "shipped:copy", "--length", "5", "--out", tmp_path / "v.html")
    assert code == 0 and (tmp_path / "v.html").read_text().count("NTM viewer: copy / ntm-ff") >= 1
