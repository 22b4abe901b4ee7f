"""ntm.grid and ntm.sweep: jobs here and on a local Ray instance, faults, sweeps.

The Ray tests start a real local Ray instance (2 CPUs) and kill real worker and driver processes.
They skip where Ray is not installed, unless NTM_REQUIRE_RAY=1 (CI), where they must run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ntm import cli, grid, sweep
from ntm import training as T
from ntm.runs import CHECKPOINT_FILE, LOCK_FILE, Run

# Under pytest-xdist this module runs in one worker: its Ray tests each start or use a 2-CPU Ray instance.
pytestmark = pytest.mark.xdist_group("ray")

TINY_MODEL = dict(memory_rows=16, memory_width=8, controller_size=16)
TINY_TASK = dict(train_lengths=[1, 4])


def tiny(**overrides) -> T.TrainConfig:
    fields = dict(task="copy", task_args=TINY_TASK, model="ntm-ff", model_args=TINY_MODEL, batch_size=4,
                  target_cost=None, optimizer="adam", learning_rate=3e-3, eval_batch=32, steps_per_call=8)
    return T.TrainConfig(**{**fields, **overrides})


def tensors(path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(path))


def same_record(a: dict, b: dict, drop=frozenset({"wall_time"})) -> None:
    assert {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}


def attempts(run_dir) -> list[dict]:
    return [json.loads(line) for line in (Path(run_dir) / grid.ATTEMPTS_FILE).read_text().splitlines()]


# Here, without Ray ----------------------------------------------------------------------------------


def test_settings_are_the_product_of_the_values_and_bad_fields_are_named():
    got = sweep.settings({"learning_rate": [1e-4, 3e-4], "model.controller_size": [50, 100]})
    assert got == [
        {"learning_rate": 1e-4, "model.controller_size": 50}, {"learning_rate": 1e-4, "model.controller_size": 100},
        {"learning_rate": 3e-4, "model.controller_size": 50}, {"learning_rate": 3e-4, "model.controller_size": 100},
    ]
    assert sweep.setting_name(got[1]) == "learning_rate=0.0001-m.controller_size=100"
    with pytest.raises(ValueError, match="cannot sweep 'lr'"):
        sweep.settings({"lr": [1e-3]})
    with pytest.raises(ValueError, match="given twice"):
        sweep.settings({"batch_size": [1, 1]})
    assert sweep.parse_values("1e-4,3e-4") == [1e-4, 3e-4]
    assert sweep.parse_values("[1,4],[1,8]") == [[1, 4], [1, 8]]
    assert sweep.parse_values("adam, rmsprop") == ["adam", "rmsprop"]
    # a setting that no config can take is refused before anything trains, naming the setting
    with pytest.raises(ValueError, match="setting batch_size=0: .*batch_size"):
        sweep.sweep_jobs("unused", "copy", {"batch_size": [0]}, [0])
    assert not Path("unused").exists()


def test_a_job_needs_a_directory_per_config():
    with pytest.raises(ValueError, match="one run directory per config"):
        grid.Job([tiny(), tiny(seed=1)], ["a"])


def test_sweep_trains_each_setting_as_an_ensemble_and_continues_where_it_stopped(tmp_path, capsys):
    # two settings that compile to one program (max_skipped only decides when a run stops)
    args = ["sweep", "copy", "--set", "max_skipped=50,100", "--seeds", "0,1", "--sequences", "128",
            "--eval-every", "64", "--target-cost", "none", "--set", "batch_size=4", "--set", "optimizer=adam",
            "--set", "learning_rate=3e-3",
            "--set", "task.train_lengths=[1,4]", "--set", "model.memory_rows=16", "--set", "model.memory_width=8",
            "--set", "model.controller_size=16", "--out", str(tmp_path / "s"), "--quiet"]
    assert cli.main(args) == 0
    table = capsys.readouterr().out
    names = sorted(p.name for p in (tmp_path / "s").iterdir() if p.is_dir())
    assert len(names) == 4 and all(n.startswith(("max_skipped=50-", "max_skipped=100-")) for n in names)
    # each seed is the run `ntm train` would make: its own directory, config, checkpoints
    runs = [Run(tmp_path / "s" / n) for n in names]
    assert sorted(r.seed for r in runs) == [0, 0, 1, 1]
    assert all(r.config["ensemble"]["seeds"] == [0, 1] for r in runs)
    records = [grid.read_result(r.path) for r in runs]
    assert all(rec["sequences"] == 128 and rec["stop_reason"] == "budget" for rec in records)
    # the table has a row per setting, with the seeds' figures
    md = (tmp_path / "s" / "sweep.md").read_text()
    assert md.strip() in table
    rows = [line for line in md.splitlines() if line.startswith("| max_skipped")]
    assert len(rows) == 2 and all("| no target |" in row and row.count(" at 128)") == 2 for row in rows)
    # the same command again trains nothing: every run is finished
    before = {n: (tmp_path / "s" / n / grid.RESULT_FILE).read_bytes() for n in names}
    assert cli.main(args) == 0
    assert {n: (tmp_path / "s" / n / grid.RESULT_FILE).read_bytes() for n in names} == before
    assert all(len(attempts(r.path)) == 1 for r in runs)
    # a larger budget continues each run from its checkpoint
    assert cli.main([a if a != "128" else "192" for a in args]) == 0
    for r in runs:
        assert grid.read_result(r.path)["sequences"] == 192
        assert [a["from_sequences"] for a in attempts(r.path)] == [0, 128]
    capsys.readouterr()


def test_the_sweep_figure_shows_each_seed_against_the_learning_rate():
    records = [
        {"setting": {"learning_rate": lr}, "setting_name": f"lr={lr}", "seed": s, "task": "copy", "model": "ntm-ff",
         "eval_cost": cost, "best_cost": cost, "solved": cost < 0.05, "sequences": seq, "wall_time": 1.0,
         "target_cost": 0.05}
        for lr, s, cost, seq in [(1e-4, 0, 0.01, 5000), (1e-4, 1, 0.02, 7000), (1e-3, 0, 3.0, 9000), (1e-3, 1, 0.04, 2000)]
    ]
    fig = sweep.figure(records)
    top, bottom = fig.axes
    assert bottom.get_xscale() == "log" and bottom.get_xlabel() == "learning_rate"
    assert top.get_yscale() == "log"
    # four costs; three solved seeds and one open marker at the unsolved seed's budget
    assert sum(len(c.get_offsets()) for c in top.collections) == 4
    offsets = [c.get_offsets() for c in bottom.collections]
    assert sorted(y for o in offsets for _, y in o) == [2000, 5000, 7000, 9000]
    median_line = bottom.get_lines()[0].get_ydata()
    assert median_line[0] == 6000 and np.isnan(median_line[1])  # only where every seed solved
    table = sweep.summary_table(records)
    assert "| lr=0.0001 | 2/2 | 6,000 (5,000, 7,000) |" in table
    assert "| lr=0.001 | 1/2 | - ((3 at 9,000), 2,000) |" in table
    # without a target nothing is "solved": the row says so, with each seed's lowest cost
    untargeted = [{**r, "target_cost": None, "solved": False} for r in records[:2]]
    assert "| lr=0.0001 | no target | - ((0.01 at 5,000), (0.02 at 7,000)) | 0.015 (0.02) |" in sweep.summary_table(untargeted)
    _, low = sweep.figure(untargeted).axes  # and the second panel shows the lowest costs, not sequences
    assert "lowest evaluation cost" in low.get_ylabel() and low.get_yscale() == "log"
    assert sorted(y for c in low.collections for _, y in c.get_offsets()) == [0.01, 0.02]


def test_the_sweep_command_names_a_bad_flag(tmp_path, capsys):
    assert cli.main(["sweep", "copy", "--out", str(tmp_path / "x")]) == 2
    assert "nothing to sweep" in capsys.readouterr().err
    assert cli.main(["sweep", "copy", "--set", "lr=1,2", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot sweep 'lr'" in err
    assert cli.main(["sweep", "copy", "--lr", "1e-3", "--cpus", "0", "--out", str(tmp_path / "x")]) == 2
    assert "--cpus" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


# On a local Ray instance -----------------------------------------------------------------------------

try:
    import ray
except ImportError:
    if os.environ.get("NTM_REQUIRE_RAY") == "1":
        raise
    ray = None

need_ray = pytest.mark.skipif(ray is None, reason="Ray is not installed (the ray extra)")


@need_ray
def test_a_grid_whose_driver_was_killed_continues_and_trains_nothing_twice(tmp_path):
    # a driver in another process, with a local Ray instance of its own (before this module's instance starts)
    out = tmp_path / "s"
    # two settings of one compiled program, one job at a time (--cpus 2 of 2)
    args = [sys.executable, "-m", "ntm", "sweep", "copy", "--set", "max_skipped=50,100", "--seeds", "0",
            "--sequences", "2048", "--eval-every", "128", "--target-cost", "none", "--set", "batch_size=4",
            "--set", "optimizer=adam", "--set", "learning_rate=3e-3", "--set", "task.train_lengths=[1,4]",
            "--set", "model.memory_rows=16", "--set", "model.memory_width=8", "--set", "model.controller_size=16",
            "--out", str(out), "--quiet", "--ray", "--cpus", "2"]
    env = {**os.environ, "RAY_ADDRESS": "", "NTM_COMPILATION_CACHE": str(tmp_path / "xla-cache")}
    driver = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    deadline = time.time() + 600
    while not any(out.glob(f"*/{grid.RESULT_FILE}")):
        assert driver.poll() is None, "the driver ended before any run finished"
        assert time.time() < deadline, "no run finished"
        time.sleep(0.05)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    finished = {p.parent.name: p.read_bytes() for p in out.glob(f"*/{grid.RESULT_FILE}")}
    # the same command again completes the grid
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    runs = sorted(p for p in out.iterdir() if p.is_dir())
    assert len(runs) == 2 and len(finished) == 1
    for run in runs:
        record = grid.read_result(run)
        assert record["sequences"] == 2048
        if run.name in finished:  # finished before the kill: kept as it was, not trained again
            assert (run / grid.RESULT_FILE).read_bytes() == finished[run.name]
            assert len(attempts(run)) == 1
        else:
            assert len(attempts(run)) in (1, 2)  # started again, or resumed from its checkpoint
            assert all(a["from_sequences"] < 2048 for a in attempts(run))
        Run(run).load_model("last")
    assert len([row for row in (out / "sweep.md").read_text().splitlines() if row.startswith("| max_skipped")]) == 2


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """A local Ray instance of 2 CPUs for this module; its workers share a compilation cache."""
    cache = tmp_path_factory.mktemp("xla-cache")
    old = os.environ.get("NTM_COMPILATION_CACHE")
    os.environ["NTM_COMPILATION_CACHE"] = str(cache)  # reaches the workers (ntm.grid passes NTM_*)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
    if old is None:
        del os.environ["NTM_COMPILATION_CACHE"]
    else:
        os.environ["NTM_COMPILATION_CACHE"] = old


TINY_SWEEP = ["--set", "batch_size=4", "--set", "optimizer=adam", "--set", "learning_rate=3e-3",
              "--set", "task.train_lengths=[1,4]", "--set", "model.memory_rows=16", "--set", "model.memory_width=8",
              "--set", "model.controller_size=16"]


@need_ray
def test_a_run_on_ray_equals_the_same_run_here(local_ray, tmp_path):
    # Here: `ntm sweep` in a process of its own, as a user runs it (its batch of 4 split over two
    # CPU devices); on Ray: the same sweep from the library, each job given the 2 CPUs that
    # process had.
    here, there = tmp_path / "here", tmp_path / "ray"
    args = ["sweep", "copy", "--set", "max_skipped=100", "--seeds", "0", "--sequences", "192", "--eval-every", "64",
            "--target-cost", "none", *TINY_SWEEP, "--quiet"]
    env = {**os.environ, "NTM_COMPILATION_CACHE": os.environ["NTM_COMPILATION_CACHE"]}
    done = subprocess.run([sys.executable, "-m", "ntm", *args, "--out", str(here)], env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    values = {"max_skipped": [100]}
    fixed = {"batch_size": 4, "optimizer": "adam", "learning_rate": 3e-3, "task_args": TINY_TASK, "model_args": TINY_MODEL}
    jobs = sweep.sweep_jobs(there, "copy", values, [0], sequences=192, eval_every=64, target_cost=None, **fixed)
    assert [c.to_dict() for c in jobs[0].configs] == [Run(p).config["train"] for p in here.glob("*-seed0")]
    grid.run(jobs, ray=True, cpus=2, progress=False)
    (a,), (b,) = here.glob("*-seed0"), there.glob("*-seed0")
    assert a.name == b.name == "base-seed0"  # no field has two values
    same_record(grid.read_result(a), grid.read_result(b), drop={"wall_time", "setting"})
    for file in (CHECKPOINT_FILE, "best.safetensors"):
        x, y = tensors(a / file), tensors(b / file)
        assert x.keys() == y.keys()
        for k in x:
            np.testing.assert_array_equal(x[k], y[k])

    def log(run_dir):  # the training log, less its clock columns (nan written as text: nan == nan)
        return [{k: repr(v) for k, v in row.items() if k not in ("wall_time", "seq_per_s")}
                for row in Run(run_dir).metrics()]

    assert log(a) == log(b) and log(b)
    assert attempts(b)[0]["pid"] not in (os.getpid(), attempts(a)[0]["pid"])  # it trained in a worker


@need_ray
def test_a_killed_worker_is_retried_from_the_last_checkpoint(local_ray, tmp_path):
    out = tmp_path / "cell"
    cfg = tiny(sequences=8192, eval_every=128)
    refs = grid._ray_task(1, 0, 3).remote(grid.Job([cfg], [out], generalise=False), 1, 0)
    # wait for the worker's first checkpoint, then kill it
    deadline = time.time() + 600
    while not (out / CHECKPOINT_FILE).exists():
        assert time.time() < deadline, "the worker wrote no checkpoint"
        time.sleep(0.02)
    pid = int((out / LOCK_FILE).read_text())
    os.kill(pid, signal.SIGKILL)
    (record,) = ray.get(refs, timeout=900)
    assert record["sequences"] == 8192 and record["stop_reason"] == "budget"
    first, second = attempts(out)
    assert first["pid"] == pid and second["pid"] != pid
    assert 0 < second["from_sequences"] < 8192  # resumed from a checkpoint, not from the start
    # nothing corrupt: the checkpoints load (their checksums hold), the log has each evaluation once
    run = Run(out)
    assert run.checkpoint_info("last").sequences == 8192
    run.load_model("best")
    seqs = [row["sequences"] for row in run.metrics()]
    assert seqs == sorted(set(seqs)) and seqs[-1] == 8192
