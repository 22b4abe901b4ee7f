"""Tests for ntm.training.fit_ensemble: each member is the run fit would make alone (parameters,
optimiser state, evaluations, log, stopping), a solved member stands still while the others train,
a member with non-finite updates stops alone, a resumed ensemble (or a member resumed alone) equals
an uninterrupted one, members split over two devices, per-member learning rates, and
``ntm train --seeds``.

Every ensemble here uses one tiny setting (copy, memory 16 x 8, controller 16, batch 4, Adam), so
the file compiles few programs: the lone update, the two-member and one-member ensemble updates,
their evaluations, and the two-member update with per-member learning rates.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ntm
from ntm import checkpoint, cli
from ntm import training as T
from ntm.runs import Run

# A tiny setting (Adam 3e-3, clipped at 10; 64 updates per call, evaluations of 256 sequences)
# that ntm train --seeds with TINY_FLAGS builds too (the same cached optimiser), so that the
# command shares the programs the library calls compile.
CFG = T.TrainConfig(task="copy", model="ntm-ff", batch_size=4, target_cost=None, optimizer="adam", learning_rate=3e-3,
                    model_args=dict(memory_rows=16, memory_width=8, controller_size=16)).resolved()
TASK, CONFIG, OPTIMIZER = CFG.task_obj(), CFG.model_config(), CFG.optimizer_obj()
SETTINGS = dict(batch_size=4, steps_per_call=CFG.steps_per_call, eval_every=256, eval_batch=CFG.eval_batch,
                progress=False)
SEEDS = [0, 1]
# Seed 1's first evaluation (82.9 bits, after 256 sequences) is below it, seed 0's second (83.1,
# after 512; its first is 85.7): each far from it in float rounding.
TARGET = 84.0


def build(seed: int):
    return ntm.build_model(CONFIG, jax.random.key(seed))


def arrays(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array))]


def assert_close(a, b, tol=2e-5):
    """Equal up to float rounding: vmapped products sum in another order than the lone ones."""
    xs, ys = arrays(a), arrays(b)
    assert len(xs) == len(ys) > 5
    for x, y in zip(xs, ys, strict=True):
        np.testing.assert_allclose(x, y, rtol=tol, atol=tol)


def assert_same_run(member: T.FitResult, lone: T.FitResult):
    assert (member.sequences, member.stop_reason, member.solved) == (lone.sequences, lone.stop_reason, lone.solved)
    assert member.eval_cost == pytest.approx(lone.eval_cost, rel=1e-4)
    assert member.best_cost == pytest.approx(lone.best_cost, rel=1e-4)
    assert_close(member.model, lone.model)
    assert_close(member.opt_state, lone.opt_state)


def same_log(a: Run, b: Run):
    rows_a, rows_b = a.metrics(), b.metrics()
    assert [r["sequences"] for r in rows_a] == [r["sequences"] for r in rows_b]
    for ra, rb in zip(rows_a, rows_b):
        for column in ("cost_bits", "eval_cost_bits", "skipped"):
            np.testing.assert_allclose(ra[column], rb[column], rtol=1e-4)


@pytest.fixture(scope="module")
def lone(tmp_path_factory):
    """Each seed trained alone by fit: 768 sequences (three calls), no target."""
    root = tmp_path_factory.mktemp("lone")
    return [T.fit(build(s), TASK, OPTIMIZER, seed=s, sequences=768, target_cost=None, run=root / f"seed{s}", **SETTINGS)
            for s in SEEDS]


@pytest.fixture(scope="module")
def ensemble(tmp_path_factory):
    """The same seeds as one ensemble, written under a root directory."""
    root = tmp_path_factory.mktemp("ensemble")
    results = T.fit_ensemble(build, TASK, OPTIMIZER, seeds=SEEDS, sequences=768, target_cost=None, runs=root,
                             **SETTINGS)
    return root, results


def test_each_member_equals_its_run_alone(lone, ensemble):
    root, results = ensemble
    for seed, member, alone in zip(SEEDS, results, lone, strict=True):
        assert_same_run(member, alone)
        run = Run(root / f"copy-ntm-ff-seed{seed}")  # the directory ntm train --seed S would write
        assert member.run.path == run.path and run.seed == seed
        same_log(run, alone.run)  # the same evaluations, at the same points, and the same training costs
        loaded, info = run.load_model("last")
        assert info.sequences == 768
        assert_close(loaded, member.model, tol=0)
    # The members really differ (different seeds, different data).
    assert not np.allclose(arrays(results[0].model)[0], arrays(results[1].model)[0])


# JAX fixes its number of CPU devices when its client is created: the members split over two
# devices run in a fresh process with two, and are compared with the lone runs of this one.
TWO_DEVICES = textwrap.dedent(
    """
    import json, sys
    import jax
    jax.config.update("jax_num_cpu_devices", 2)
    import equinox as eqx, numpy as np
    sys.path.insert(0, sys.argv[1])
    import test_ensemble as E
    results = E.T.fit_ensemble(E.build, E.TASK, E.OPTIMIZER, seeds=E.SEEDS, sequences=768, target_cost=None,
                               **E.SETTINGS)
    leaves = [jax.tree_util.tree_leaves(eqx.filter(r.model, eqx.is_array)) for r in results]
    print(json.dumps({
        "runs": [[r.sequences, r.stop_reason, r.eval_cost] for r in results],
        "params": [[np.asarray(x).tolist() for x in member] for member in leaves],
        "spans": sorted({len(x.sharding.device_set) for member in leaves for x in member}),
    }))
    """
)


def test_members_split_over_two_devices_equal_their_runs_alone(lone):
    proc = subprocess.run([sys.executable, "-c", TWO_DEVICES, str(Path(__file__).parent)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["spans"] == [1]  # each member handed back on one device
    for (sequences, reason, cost), params, alone in zip(out["runs"], out["params"], lone, strict=True):
        assert (sequences, reason) == (alone.sequences, alone.stop_reason)
        assert cost == pytest.approx(alone.eval_cost, rel=1e-4)
        for x, y in zip(params, arrays(alone.model), strict=True):
            np.testing.assert_allclose(np.asarray(x, np.float32), y, rtol=2e-5, atol=2e-5)


def test_a_solved_member_stands_still_while_the_others_train(tmp_path, capsys):
    results = T.fit_ensemble(build, TASK, OPTIMIZER, seeds=SEEDS, sequences=768, target_cost=TARGET,
                             runs=tmp_path, **{**SETTINGS, "progress": True})
    alone = [T.fit(build(s), TASK, OPTIMIZER, seed=s, sequences=768, target_cost=TARGET, **SETTINGS) for s in SEEDS]
    assert [r.stop_reason for r in results] == ["solved", "solved"]
    assert [r.sequences for r in results] == [512, 256]
    for member, lone_run in zip(results, alone):
        assert_same_run(member, lone_run)  # (seed 0 trained on alone in a program of one member)
    # The member solved first was last written when it was solved.
    solved = Run(tmp_path / "copy-ntm-ff-seed1")
    assert [r["sequences"] for r in solved.metrics()] == [256]
    assert_close(solved.load_model("last")[0], results[1].model, tol=0)
    # The bar counts the solved members.
    err = capsys.readouterr().err
    assert "solved=1/2" in err and "solved=2/2" in err


def test_a_member_with_non_finite_updates_stops_alone(lone):
    broken = build(1)
    w = broken.controller.layers[0].weight
    broken = eqx.tree_at(lambda m: m.controller.layers[0].weight, broken, w.at[0, 0].set(jnp.nan))
    results = T.fit_ensemble([build(0), broken], TASK, OPTIMIZER, seeds=SEEDS, sequences=768, target_cost=None,
                             max_skipped=6, **SETTINGS)
    alone = T.fit(broken, TASK, OPTIMIZER, seed=1, sequences=768, target_cost=None, max_skipped=6, **SETTINGS)
    assert_same_run(results[0], lone[0])  # untouched by its neighbour's NaNs
    assert results[1].stop_reason.startswith("stopped: 64 consecutive updates")
    assert results[1].sequences == alone.sequences == 256  # one call of 64 skipped updates
    # Every update was skipped: the parameters are the initial ones (NaN where they were).
    for a, b in zip(arrays(results[1].model), arrays(broken), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_resumed_ensemble_and_a_member_resumed_alone_equal_the_uninterrupted_one(tmp_path, ensemble):
    _, whole = ensemble
    T.fit_ensemble(build, TASK, OPTIMIZER, seeds=SEEDS, sequences=256, target_cost=None, runs=tmp_path, **SETTINGS)
    resumed = T.fit_ensemble(build, TASK, OPTIMIZER, seeds=SEEDS, sequences=768, target_cost=None, runs=tmp_path,
                             resume=True, **SETTINGS)
    for a, b in zip(resumed, whole, strict=True):
        assert (a.sequences, a.eval_cost) == (b.sequences, b.eval_cost)
        for x, y in zip(arrays(a.model), arrays(b.model), strict=True):
            np.testing.assert_array_equal(x, y)  # the same program on the same data: bit for bit
    # A member continued by fit on its own, from the ensemble's checkpoint.
    T.fit_ensemble(build, TASK, OPTIMIZER, seeds=SEEDS, sequences=256, target_cost=None, runs=tmp_path / "again",
                   **SETTINGS)
    alone = T.fit(build(1), TASK, OPTIMIZER, seed=1, sequences=768, target_cost=None,
                  run=tmp_path / "again" / "copy-ntm-ff-seed1", resume=True, **SETTINGS)
    assert_same_run(alone, whole[1])
    # Nothing left to do: the ensemble stands still and leaves its directories alone.
    before = (tmp_path / "copy-ntm-ff-seed0" / "checkpoint.safetensors").stat().st_mtime_ns
    again = T.fit_ensemble(build, TASK, OPTIMIZER, seeds=SEEDS, sequences=768, target_cost=None, runs=tmp_path,
                           resume=True, **SETTINGS)
    assert [r.sequences for r in again] == [768, 768]
    assert (tmp_path / "copy-ntm-ff-seed0" / "checkpoint.safetensors").stat().st_mtime_ns == before


def test_an_ensemble_resumes_runs_saved_before_a_model_field_existed_as_they_were_trained(tmp_path):
    # Runs whose config.json lacks state_grad_clip (saved before it existed) were trained without
    # the bound: train_ensemble(resume=True) continues them with 0, not today's default of 1000,
    # where fit would refuse the default-built model as another one.
    cfgs = [dataclasses.replace(CFG, seed=s, sequences=256) for s in SEEDS]
    dirs = [tmp_path / f"seed{s}" for s in SEEDS]
    T.train_ensemble(cfgs, dirs, progress=False)
    for d in dirs:
        data = json.loads((d / "config.json").read_text())
        assert data["model"].pop("state_grad_clip") == 1000.0
        (d / "config.json").write_text(json.dumps(data))
    with pytest.raises(ntm.runs.RunError, match="another model"):
        T.fit_ensemble(build, TASK, OPTIMIZER, seeds=SEEDS, sequences=256, target_cost=None, runs=dirs,
                       resume=True, **SETTINGS)
    # (Resumed with nothing left to train, so that no program compiles for the rebuilt model.)
    results = T.train_ensemble(cfgs, dirs, progress=False, resume=True)
    assert [r.sequences for r in results] == [256, 256]
    assert [r.model.config.state_grad_clip for r in results] == [0.0, 0.0]
    # A request for another model is still refused.
    other = [dataclasses.replace(c, model_args={**c.model_args, "controller_size": 12}) for c in cfgs]
    with pytest.raises(ntm.runs.RunError, match="another model"):
        T.train_ensemble(other, dirs, progress=False, resume=True)


def test_learning_rates_per_member():
    # One Adam update moves each parameter by lr * g / (|g| + eps): with one seed (the same data
    # and gradient) and learning rates 1e-2 and 1e-3, the first member moves ten times as far.
    injected = optax.chain(optax.clip(10.0), optax.inject_hyperparams(optax.adam)(learning_rate=3e-3))
    results = T.fit_ensemble([build(0), build(0)], TASK, injected, seeds=[0, 0], sequences=4, target_cost=None,
                             hyperparams=[{"learning_rate": 1e-2}, {"learning_rate": 1e-3}], **SETTINGS)
    start = arrays(eqx.filter(build(0), T.trainable(build(0))))
    fast, slow = (arrays(eqx.filter(r.model, T.trainable(r.model))) for r in results)
    moved = 0
    for p0, a, b in zip(start, fast, slow, strict=True):
        np.testing.assert_allclose(a - p0, 10 * (b - p0), rtol=2e-3, atol=2e-6)
        moved += int(np.sum(np.abs(a - p0) > 1e-3))
    assert moved > 100
    rates = [r.opt_state.inner_state[1].hyperparams["learning_rate"] for r in results]
    assert np.allclose(rates, [1e-2, 1e-3])  # kept in the state, so a checkpoint carries it
    with pytest.raises(ValueError, match="inject_hyperparams"):
        T.fit_ensemble(build, TASK, OPTIMIZER, seeds=[0], hyperparams=[{"learning_rate": 1e-3}], **SETTINGS)


def test_bad_ensembles_are_refused(tmp_path):
    other = ntm.build_model(ntm.model_config(TASK, "ntm-ff", memory_rows=8, memory_width=8, controller_size=16),
                            jax.random.key(1))
    with pytest.raises(ValueError, match="differs from models"):
        T.fit_ensemble([build(0), other], TASK, OPTIMIZER, seeds=SEEDS, **SETTINGS)
    with pytest.raises(ValueError, match="same run directory"):
        T.fit_ensemble(build, TASK, OPTIMIZER, seeds=[3, 3], runs=tmp_path, **SETTINGS)
    with pytest.raises(ValueError, match="seeds"):
        T.fit_ensemble(build, TASK, OPTIMIZER, seeds=[], **SETTINGS)
    with pytest.raises(ValueError, match="resume"):
        T.fit_ensemble(build, TASK, OPTIMIZER, seeds=SEEDS, resume=True, **SETTINGS)
    with pytest.raises(ValueError, match="one model per member"):
        T.fit_ensemble(build(0), TASK, OPTIMIZER, seeds=SEEDS, **SETTINGS)
    # A member's directory that holds another run: refused before any directory is touched.
    (tmp_path / "a").mkdir()
    T.fit(build(1), TASK, OPTIMIZER, seed=1, sequences=16, target_cost=None, run=tmp_path / "a" / "copy-ntm-ff-seed1",
          **SETTINGS)
    with pytest.raises(T.RunError, match="already holds a run"):
        T.fit_ensemble(build, TASK, OPTIMIZER, seeds=SEEDS, runs=tmp_path / "a", **SETTINGS)
    assert not (tmp_path / "a" / "copy-ntm-ff-seed0" / "config.json").exists()


TINY_FLAGS = ["--memory-rows", "16", "--memory-width", "8", "--controller-size", "16", "--batch-size", "4",
              "--optimizer", "adam", "--lr", "3e-3", "--target-cost", "none", "--quiet"]


def test_ntm_train_seeds(tmp_path, capsys):
    flags = ["train", "copy", *TINY_FLAGS, "--sequences", "256", "--out", str(tmp_path)]
    assert cli.main([*flags, "--seeds", "0,2"]) == 0
    out = capsys.readouterr().out
    assert "seed 0: sequence budget spent: 256 sequences" in out and "seed 2:" in out
    for seed in (0, 2):
        run = Run(tmp_path / f"copy-ntm-ff-seed{seed}")  # as ntm train --seed S names it
        assert run.seed == seed and T.read_config(run).seed == seed
        assert run.has_checkpoint() and [r["sequences"] for r in run.metrics()] == [256]
    # A member is a run of its own: ntm train --resume continues it alone (here: nothing left to do).
    assert cli.main(["train", "--resume", str(tmp_path / "copy-ntm-ff-seed2"), "--quiet"]) == 0
    assert "nothing to train" in capsys.readouterr().out
    # The same command again carries on with the members' runs.
    assert cli.main([*flags, "--seeds", "0,2"]) == 0
    assert "continuing them" in capsys.readouterr().err


def test_ntm_train_seeds_makes_a_cpu_device_per_core_the_members_split_over(monkeypatch):
    from ntm import fast

    monkeypatch.setattr(fast, "cpu_count", lambda: 2)
    plan = lambda argv: cli._training_plan(cli._parser().parse_args(argv))
    devices = lambda plan: fast.training_devices(plan.models, plan.batch_size)  # as main creates them
    assert devices(plan(["train", "copy", "--seeds", "0-7", "--batch-size", "1"])) == 2
    assert devices(plan(["train", "copy", "--seeds", "0-2", "--batch-size", "8"])) == 1


@pytest.mark.parametrize("flags, message", [
    (["--seeds", "3-1"], "LO-HI"),
    (["--seeds", "x"], "expected seeds"),
    (["--seeds", "0,0"], "each seed once"),
    (["--seeds", "0-1", "--seed", "2"], "not both"),
])
def test_ntm_train_seeds_bad_input(tmp_path, capsys, flags, message):
    assert cli.main(["train", "copy", *TINY_FLAGS, "--out", str(tmp_path), *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("ntm: error:")
    assert not any(tmp_path.iterdir())


def test_on_a_task_with_a_reference_the_best_is_the_lowest_excess_and_a_member_picks_what_its_lone_run_does(tmp_path):
    """Dynamic n-grams (short sequences, a tiny model): each evaluation's reference in the log is
    the Bayes optimum of its own batch, the best checkpoint is the evaluation of lowest cost above
    it, and an ensemble member logs and chooses as its run alone does."""
    cfg = T.TrainConfig(task="dynamic_ngrams", task_args=dict(order=3, train_lengths=(24, 24)), model="ntm-ff",
                        batch_size=4, target_cost=None, optimizer="adam", learning_rate=3e-3,
                        model_args=dict(memory_rows=8, memory_width=4, controller_size=8)).resolved()
    task, config = cfg.task_obj(), cfg.model_config()
    settings = dict(batch_size=4, steps_per_call=8, eval_every=32, eval_batch=16, progress=False, sequences=160,
                    target_cost=None)
    lone = T.fit(ntm.build_model(config, jax.random.key(1)), task, OPTIMIZER, seed=1, run=tmp_path / "lone",
                 **settings)
    members = T.fit_ensemble(lambda s: ntm.build_model(config, jax.random.key(s)), task, OPTIMIZER, seeds=[0, 1],
                             runs=[tmp_path / "m0", tmp_path / "m1"], **settings)
    rows = [r for r in Run(tmp_path / "lone").metrics() if np.isfinite(r["eval_cost_bits"])]
    assert len(rows) == 5
    _, eval_key = T.loop.data_keys(1)
    for r in rows:
        step = int(r["sequences"]) // 4
        batch = task.sample(jax.random.fold_in(eval_key, step), 16)
        assert r["eval_reference_bits"] == pytest.approx(float(jnp.mean(task.reference_cost(batch))), rel=1e-5)
    excess = [r["eval_cost_bits"] - r["eval_reference_bits"] for r in rows]
    best = checkpoint.read_meta(tmp_path / "lone" / "best.safetensors")
    i = int(np.argmin(excess))
    assert best["sequences"] == rows[i]["sequences"] and best["eval_excess"] == pytest.approx(excess[i], rel=1e-5)
    assert lone.best_excess == pytest.approx(excess[i], rel=1e-5) and lone.best_cost == pytest.approx(rows[i]["eval_cost_bits"])
    assert members[1].best_excess == pytest.approx(lone.best_excess, rel=1e-4)
    for ra, rb in zip(Run(tmp_path / "m1").metrics(), Run(tmp_path / "lone").metrics(), strict=True):
        np.testing.assert_allclose([ra["eval_cost_bits"], ra["eval_reference_bits"]],
                                   [rb["eval_cost_bits"], rb["eval_reference_bits"]], rtol=1e-4)
