"""Tests for ntm.training through its configuration adapter (TrainConfig, train, resume): resumed
equals uninterrupted, crash-safe checkpoints, non-finite losses, configuration checks.

Every run here uses one tiny setting (copy, memory 16 x 8, controller 16, batch 4, the default
optimiser), the same as tests/test_cli.py, so the whole suite compiles the training step once:
equal settings share one compilation per process.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ntm
from ntm import checkpoint, cli, presets
from ntm import training as T
from ntm.runs import CHECKPOINT_FILE, CONFIG_FILE, Run, RunError
from ntm.training.step import skip_nonfinite, task_loss, trainable

TINY_MODEL = dict(memory_rows=16, memory_width=8, controller_size=16)
TINY_FLAGS = ["--memory-rows", "16", "--memory-width", "8", "--controller-size", "16", "--batch-size", "4",
              "--optimizer", "adam", "--lr", "3e-3", "--target-cost", "none", "--quiet"]


def tiny(**overrides) -> T.TrainConfig:
    # Adam at a fixed rate: the tiny setting of every training test (one compiled update for all).
    fields = dict(task="copy", model="ntm-ff", model_args=TINY_MODEL, batch_size=4, target_cost=None,
                  optimizer="adam", learning_rate=3e-3)
    return T.TrainConfig(**{**fields, **overrides})


def leaves(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_array))]


def state_template(cfg: T.TrainConfig):
    """``{"params", "opt"}`` of a new run of ``cfg``: the structure its checkpoints hold."""
    model = presets.build_model(cfg.model_config(), jax.random.key(cfg.seed))
    params = eqx.filter(model, trainable(model))
    return {"params": params, "opt": skip_nonfinite(cfg.optimizer_obj()).init(params)}


def saved_state(run_dir):
    """``(params, opt_state, meta)`` as stored in a run's checkpoint."""
    state, meta = Run(run_dir).load_state(state_template(T.read_config(run_dir)))
    return state["params"], state["opt"], meta


def read_metrics(run_dir):
    return Run(run_dir).metrics()


def snapshot(directory) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and modification time; the lock file, which holds the pid of whoever
    holds the lock, aside."""
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """A tiny run of 200 sequences (50 updates); tests copy it before changing anything."""
    out = tmp_path_factory.mktemp("train") / "run"
    result = T.train(tiny(sequences=200), out, progress=False)
    assert result.stop_reason == "budget" and result.sequences == 200
    return out


# Resume ---------------------------------------------------------------------------------------

STAGE = {"until": 64, "task_args": {"train_lengths": [1, 3]}}  # copy of 1-3 vectors for 64 sequences


def test_resume_equals_uninterrupted(tmp_path):
    # 100 updates in calls of 64 (0-64, 64-100) against 50 updates, a restart, and 50 more (0-50,
    # 50-100): the cut falls inside a call, and the result must not depend on it, to the last bit.
    whole = T.train(tiny(sequences=400), tmp_path / "whole", progress=False)
    T.train(tiny(sequences=200), tmp_path / "split", progress=False)
    resumed = T.resume(tmp_path / "split", sequences=400, progress=False)

    assert resumed.sequences == whole.sequences == 400
    for a, b in zip(leaves(whole.model), leaves(resumed.model), strict=True):
        np.testing.assert_array_equal(a, b)
    (p1, o1, m1), (p2, o2, m2) = saved_state(tmp_path / "whole"), saved_state(tmp_path / "split")
    for a, b in zip(leaves((p1, o1)), leaves((p2, o2)), strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert (m1["step"], m1["sequences"]) == (m2["step"], m2["sequences"]) == (100, 400)
    assert m1["eval_cost"] == m2["eval_cost"]
    # The resumed log continues the first one: each interval once, in order.
    seqs = [r["sequences"] for r in read_metrics(tmp_path / "split")]
    assert seqs == sorted(set(seqs)) and seqs[-1] == 400
    assert json.loads((tmp_path / "split" / CONFIG_FILE).read_text())["train"]["sequences"] == 400


def fit_config(cfg: T.TrainConfig, out, loss=None, resume=False):
    """``T.train`` / ``T.resume`` of ``cfg`` through ``fit`` with a loss of the test's own."""
    cfg = cfg.resolved()
    model = presets.build_model(cfg.model_config(), jax.random.key(cfg.seed))
    return T.fit(model, cfg.task_obj(), cfg.optimizer_obj(), **cfg.fit_kwargs(), loss=loss, run=out, resume=resume,
                 progress=False, record={"train": cfg.to_dict()})


def test_a_curriculum_trains_each_stage_on_its_task_and_resumes_exactly(tmp_path, monkeypatch):
    seen = []  # the time steps of the batches each compiled update trains on (recorded when traced)
    final = tiny().resolved().task_obj()

    def loss(model, batch):
        seen.append(batch.inputs.shape[1])
        return task_loss(model, batch, final)

    cfg = tiny(sequences=160, curriculum=[STAGE])
    whole = fit_config(cfg, tmp_path / "whole", loss)
    # Stage one is copy of 1-3 vectors (3 + 1 + 3 = 7 steps), then copy itself (20 + 1 + 20 steps);
    # evaluation always scores the task itself.
    assert 7 in seen and 41 in seen and set(seen) == {7, 41}
    first = read_metrics(tmp_path / "whole")
    assert [r["sequences"] for r in first][:1] == [64]  # the first stage ends a call early

    fit_config(dataclasses.replace(cfg, sequences=32), tmp_path / "split", loss)  # inside stage one
    resumed = fit_config(cfg, tmp_path / "split", loss, resume=True)
    assert resumed.sequences == whole.sequences == 160
    for a, b in zip(leaves(whole.model), leaves(resumed.model), strict=True):
        np.testing.assert_array_equal(a, b)
    assert T.read_config(tmp_path / "split").curriculum == [STAGE]

    # The learning curve leaves out the training cost of the easier stage, and says so.
    from matplotlib.axes import Axes

    from ntm import viz

    drawn = {}
    real_plot = Axes.plot

    def plot(ax, x, y, *args, **kwargs):
        drawn.setdefault(kwargs.get("label"), []).append((np.asarray(x), np.asarray(y)))
        return real_plot(ax, x, y, *args, **kwargs)

    monkeypatch.setattr(Axes, "plot", plot)
    png = viz.plot_learning_curves([tmp_path / "whole"], tmp_path / "curve.png", labels=["run"], smooth=1)
    assert png.read_bytes().startswith(b"\x89PNG")
    (x, y), = drawn["run; curriculum to 64"]
    assert np.isnan(y[x <= 0.064]).all() and np.isfinite(y[x > 0.064]).all()


def test_a_learning_rate_schedule_takes_effect_from_its_update_and_resumes_exactly(tmp_path):
    lr = tiny().resolved().learning_rate
    plain = T.train(tiny(sequences=128), None, progress=False)
    # The same rate from update 16 on changes nothing; a negligible one freezes the parameters there.
    same = T.train(tiny(sequences=128, lr_schedule=[{"from": 64, "learning_rate": lr}]), None, progress=False)
    for a, b in zip(leaves(plain.model), leaves(same.model), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    half = T.train(tiny(sequences=64), None, progress=False)
    cfg = tiny(sequences=128, lr_schedule=[{"from": 64, "learning_rate": 1e-12}])
    frozen = T.train(cfg, tmp_path / "frozen", progress=False)
    for a, b in zip(leaves(half.model), leaves(frozen.model), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not all(np.allclose(a, b) for a, b in zip(leaves(half.model), leaves(plain.model)))
    # Cut inside the first rate, resumed across the change: equal to the whole run, to the bit.
    T.train(dataclasses.replace(cfg, sequences=32), tmp_path / "split", progress=False)
    resumed = T.resume(tmp_path / "split", sequences=128, progress=False)
    for a, b in zip(leaves(frozen.model), leaves(resumed.model), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_evaluation_compiles_in_the_background_for_the_program_the_loop_runs(tmp_path, monkeypatch):
    import threading

    from ntm.training import loop

    calls = []  # (thread name, what decides the compiled program) per evaluation
    real = loop.evaluate_batch

    def evaluate(model, key, task, batch_size, loss, devices=1):
        arrays = [(x.shape, x.dtype) for x in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_array))]
        calls.append((threading.current_thread().name, arrays, key.shape, task, batch_size, loss, devices))
        return real(model, key, task, batch_size, loss, devices)

    monkeypatch.setattr(loop, "evaluate_batch", evaluate)
    result = T.train(tiny(sequences=64), tmp_path / "run", progress=False)
    warm = [c for c in calls if c[0] == "ntm-warm-up"]
    loop = [c for c in calls if c[0] != "ntm-warm-up"]
    assert len(warm) == 1 and len(loop) == 1  # the run's one evaluation, at its end
    assert warm[0][1:] == loop[0][1:]
    assert [r["eval_cost_bits"] for r in read_metrics(tmp_path / "run") if r["eval_cost_bits"] != ""][-1] == (
        pytest.approx(result.eval_cost)
    )
    # A run with nothing left to do starts no evaluation.
    calls.clear()
    T.resume(tmp_path / "run", progress=False)
    assert calls == []


def test_checkpoint_keeps_scalar_shapes(tmp_path):
    # The optimiser's counters are 0-d arrays; they must come back 0-d, or resuming fails.
    template = state_template(tiny().resolved())
    run = Run(tmp_path)
    digest = run.save_state(template, {"step": 3, "sequences": 12, "wall_time": 1.5, "eval_cost": None})
    state, meta = run.load_state(template)
    shapes = jax.tree_util.tree_map(jnp.shape, template["opt"])
    assert jax.tree_util.tree_map(jnp.shape, state["opt"]) == shapes
    assert meta == {"step": 3, "sequences": 12, "wall_time": 1.5, "eval_cost": None, "sha256": digest}
    # Older checkpoints stored those counters as shape (1,); they still load, as 0-d.
    as_vectors = jax.tree_util.tree_map(lambda x: jnp.reshape(x, (1,)) if jnp.ndim(x) == 0 else x, template)
    checkpoint.save(tmp_path / CHECKPOINT_FILE, as_vectors, meta)
    state, _ = run.load_state(template)
    assert jax.tree_util.tree_map(jnp.shape, state["opt"]) == shapes


def test_resume_with_nothing_left_to_do_changes_nothing(base_run, tmp_path):
    run = shutil.copytree(base_run, tmp_path / "run")
    before = snapshot(run)
    result = T.resume(run, progress=False)
    assert result.sequences == 200 and result.stop_reason == "budget"
    assert snapshot(run) == before


def test_resume_may_change_the_stopping_settings(base_run, tmp_path):
    # A run stopped by its time budget continues when given a larger one; the new settings are saved.
    run = shutil.copytree(base_run, tmp_path / "run")
    config = json.loads((run / CONFIG_FILE).read_text())
    config["train"]["time_budget"] = 1e-3
    (run / CONFIG_FILE).write_text(json.dumps(config))
    result = T.resume(run, sequences=240, time_budget=None, progress=False)
    assert result.sequences == 240 and result.stop_reason == "budget"
    saved = json.loads((run / CONFIG_FILE).read_text())["train"]
    assert saved["time_budget"] is None and saved["target_cost"] is None and saved["sequences"] == 240
    # A target the saved evaluation already meets: solved, with no further training.
    result = T.resume(run, sequences=400, target_cost=1e9, progress=False)
    assert result.sequences == 240 and result.stop_reason == "solved"
    with pytest.raises(ValueError, match="time_budget"):
        T.resume(run, time_budget=-1.0, progress=False)


def test_resume_of_an_incompatible_checkpoint_changes_nothing(base_run, tmp_path):
    run = shutil.copytree(base_run, tmp_path / "run")
    config = json.loads((run / CONFIG_FILE).read_text())
    config["model"]["memory_rows"] = 32  # the model is rebuilt from this section
    (run / CONFIG_FILE).write_text(json.dumps(config))
    before = snapshot(run)
    with pytest.raises(RunError, match="has shape .*, the configuration needs"):
        T.resume(run, sequences=1000, progress=False)
    assert snapshot(run) == before


# Crash safety ---------------------------------------------------------------------------------


@pytest.mark.parametrize("crash_in", ["save_file", "replace"])
def test_a_crash_while_saving_leaves_the_previous_checkpoint(base_run, tmp_path, monkeypatch, crash_in):
    run = shutil.copytree(base_run, tmp_path / "run")
    old_bytes = (run / CHECKPOINT_FILE).read_bytes()
    old_params, _, old_meta = saved_state(run)

    if crash_in == "save_file":  # killed half way through writing the new file
        def crash(arrays, filename, metadata=None):
            with open(filename, "wb") as f:
                f.write(b"\x00" * 100)
            raise OSError("disk full")

        monkeypatch.setattr(checkpoint, "save_file", crash)
    else:  # the new file is complete, but the process dies before the rename
        real_replace = os.replace

        def crash(src, dst):
            if str(dst).endswith(CHECKPOINT_FILE):
                raise OSError("killed")
            real_replace(src, dst)

        monkeypatch.setattr(checkpoint.os, "replace", crash)

    with pytest.raises(OSError):
        T.resume(run, sequences=400, progress=False)
    monkeypatch.undo()

    assert (run / CHECKPOINT_FILE).read_bytes() == old_bytes  # the partial file was never taken
    params, _, meta = saved_state(run)
    assert meta == old_meta
    for a, b in zip(leaves(old_params), leaves(params), strict=True):
        np.testing.assert_array_equal(a, b)
    # ... and the run goes on from there (the leftover temporary file is simply overwritten).
    assert T.resume(run, sequences=400, progress=False).sequences == 400


# Non-finite losses ----------------------------------------------------------------------------

_COPY = tiny().resolved().task_obj()


def _sometimes_infinite_loss(model, batch):
    """The real loss, times infinity whenever the batch's first input bit is 1 (about half the
    updates): the gradient is then non-finite and the update must be skipped."""
    cost, errors = task_loss(model, batch, _COPY)
    return cost * jnp.where(batch.inputs[0, 0, 0] > 0.5, jnp.inf, 1.0), errors


def test_non_finite_losses_are_skipped_and_counted(tmp_path):
    cfg = tiny(sequences=400, max_skipped=1000)
    result = fit_config(cfg, tmp_path / "run", _sometimes_infinite_loss)
    assert result.stop_reason == "budget" and result.sequences == 400
    rows = read_metrics(tmp_path / "run")
    skipped = sum(r["skipped"] for r in rows)
    assert 10 < skipped < 90  # of 100 updates
    # The skipped updates did not poison the parameters: all finite, and the others trained them.
    trained = leaves(result.model)
    initial = leaves(presets.build_model(cfg.resolved().model_config(), jax.random.key(0)))
    assert all(np.all(np.isfinite(x)) for x in trained)
    assert any(not np.array_equal(a, b) for a, b in zip(trained, initial))
    assert all(np.isfinite(r["cost_bits"]) for r in rows)  # logged costs leave skipped updates out


def test_a_run_that_keeps_failing_stops_with_a_message(tmp_path):
    result = fit_config(tiny(sequences=400, max_skipped=2), tmp_path / "run", _sometimes_infinite_loss)
    assert result.stop_reason.startswith("stopped:") and "non-finite" in result.stop_reason
    assert result.sequences == 256  # after the first call of 64 updates
    assert (tmp_path / "run" / CHECKPOINT_FILE).exists()


class SometimesInfiniteCopy(ntm.tasks.CopyTask):
    """Copy whose cost is infinite whenever the batch's first input bit is 1: a task of the test's
    own, which ``ntm train`` finds by its import path."""

    def cost(self, logits, batch):
        return super().cost(logits, batch) * jnp.where(batch.inputs[0, 0, 0] > 0.5, jnp.inf, 1.0)


def test_the_cli_reports_a_failing_run(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main([
        "train", f"{__name__}:SometimesInfiniteCopy", *TINY_FLAGS, "--sequences", "400", "--max-skipped", "2",
        "--out", str(out),
    ])
    err = capsys.readouterr().err
    assert code == 1
    assert "ntm: error: training stopped:" in err and "non-finite" in err


def test_the_optimizer_skips_non_finite_gradients():
    opt = skip_nonfinite(T.make_optimizer("adam", 0.1, 10.0))
    params = {"w": jnp.ones(3)}
    state = opt.init(params)
    updates, state = opt.update({"w": jnp.array([1.0, jnp.nan, 1.0])}, state, params)
    assert np.all(np.asarray(optax.apply_updates(params, updates)["w"]) == 1.0)
    assert not bool(state.last_finite) and int(state.total_notfinite) == 1


def test_time_budget_stops_the_run(tmp_path):
    result = T.train(tiny(sequences=400, time_budget=1e-6), tmp_path / "run", progress=False)
    assert result.stop_reason == "time budget" and result.sequences == 256


# Configuration ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(task="sorting"), "unknown task"),
        (dict(model="gru"), "unknown model"),
        (dict(batch_size=0), "batch_size"),
        (dict(sequences=-1), "sequences"),
        (dict(learning_rate=-1.0), "learning_rate"),
        (dict(learning_rate=float("nan")), "learning_rate"),
        (dict(grad_clip=0.0), "grad_clip"),
        (dict(time_budget=0.0), "time_budget"),
        (dict(optimizer="sgd"), "optimizer"),
        (dict(model_args=dict(memory_rows=0)), "memory_rows"),
        (dict(model_args=dict(memory_rows=2)), "shift_width"),
        (dict(model_args=dict(heads=2)), "no field 'heads'"),
        (dict(lr_schedule=[{"from": 8}]), r"lr_schedule\[0\] must be a dict with keys"),
        (dict(lr_schedule=[{"from": 8, "learning_rate": 1e-3}, {"from": 8, "learning_rate": 1e-4}]),
         r"lr_schedule\[1\].from must be an integer above 8"),
        (dict(lr_schedule=[{"from": 8, "learning_rate": 0.0}]), r"lr_schedule\[0\].learning_rate"),
        (dict(curriculum={"until": 8}), "curriculum must be a list"),
        (dict(curriculum=[{"until": 8}]), r"curriculum\[0\] must be a dict with keys"),
        (dict(curriculum=[STAGE, STAGE]), r"curriculum\[1\].until must be an integer above 64"),
        (dict(curriculum=[{"until": 8, "task_args": {"train_lengths": [0, 3]}}]), r"curriculum\[0\].task_args"),
        (dict(curriculum=[{"until": 8, "task_args": {"width": 4}}]), "input or output width"),
    ],
)
def test_bad_configurations_name_the_problem(overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny(**overrides).resolved()


def test_train_refuses_to_overwrite_a_run(base_run):
    before = snapshot(base_run)
    with pytest.raises(RunError, match="already holds a run"):
        T.train(tiny(sequences=8), base_run, progress=False)
    assert snapshot(base_run) == before


def test_overwrite_replaces_a_run_and_keeps_other_files(base_run, tmp_path):
    # E.g. a run killed before its first checkpoint: --overwrite starts it again from scratch.
    run = shutil.copytree(base_run, tmp_path / "run")
    (run / "notes.txt").write_text("mine")
    result = T.train(tiny(sequences=8, seed=3), run, progress=False, overwrite=True)
    assert result.sequences == 8 and T.read_config(run).seed == 3
    assert [r["sequences"] for r in read_metrics(run)] == [8]
    assert len(list(run.glob("events.out.tfevents.*"))) == 1
    assert (run / "notes.txt").read_text() == "mine"
    _, _, meta = saved_state(run)
    assert meta["sequences"] == 8


def _tracked(tmp_path, evaluations, meta=None):
    """A run tracker fed one update and one evaluation ``(cost, reference)`` per entry, each with
    parameters ``w = [i, i]``; returns the tracker and its run."""
    from ntm.training import loop

    settings = loop.FitSettings(batch_size=1, sequences=100, seed=0, target_cost=None, eval_every=1, eval_batch=4,
                                time_budget=None, max_skipped=100, steps_per_call=1)
    (tmp_path / "run").mkdir()
    run = Run(tmp_path / "run")
    tracker = loop.RunTracker(settings, meta or loop.new_meta(), run)
    stats = (np.zeros(1), np.zeros(1), np.ones(1, bool))
    for i, (cost, reference) in enumerate(evaluations):
        assert tracker.advance(1)
        params = {"w": jnp.full(2, float(i))}
        tracker.record(1, stats, 0.1, cost, lambda: (params, {"m": jnp.zeros(1)}), reference)
    tracker.close_log()
    return tracker, run


def test_with_a_reference_cost_the_best_checkpoint_is_the_lowest_excess_not_the_lowest_cost(tmp_path):
    # Excess 5, then a lower cost on an easier batch (excess 7), then excess 2 at the highest cost.
    tracker, run = _tracked(tmp_path, [(130.0, 125.0), (127.0, 120.0), (133.0, 131.0), (126.0, 119.0)])
    assert (tracker.best_cost, tracker.best_excess) == (133.0, 2.0)
    best = checkpoint.read_meta(run.path / "best.safetensors")
    assert (best["sequences"], best["eval_cost"], best["eval_excess"]) == (3, 133.0, 2.0)
    model, _ = checkpoint.load(run.path / "best.safetensors", {"params": {"w": jnp.zeros(2)}})
    np.testing.assert_array_equal(model["params"]["w"], [2.0, 2.0])
    last = checkpoint.read_meta(run.path / CHECKPOINT_FILE)
    assert (last["best_excess"], last["eval_excess"]) == (2.0, 7.0)  # the best's, and the last evaluation's
    assert run.checkpoint_info("best").describe() == (
        "best checkpoint (3 sequences, evaluation cost 133 bits, 2 above the reference on the same sequences)")
    assert [r["eval_reference_bits"] for r in run.metrics()] == [125.0, 120.0, 131.0, 119.0]
    assert T.FitResult(*tracker.result(None, None)).best_excess == 2.0


def test_without_a_reference_the_best_checkpoint_is_the_lowest_cost(tmp_path):
    # None, or NaN (what the compiled evaluation returns for a task without a reference).
    tracker, run = _tracked(tmp_path, [(130.0, None), (127.0, float("nan")), (133.0, None)])
    assert (tracker.best_cost, tracker.best_excess) == (127.0, None)
    best = checkpoint.read_meta(run.path / "best.safetensors")
    assert (best["sequences"], best["eval_cost"]) == (2, 127.0) and "eval_excess" not in best
    assert run.checkpoint_info("best").describe() == "best checkpoint (2 sequences, evaluation cost 127 bits)"
    assert all(np.isnan(r["eval_reference_bits"]) for r in run.metrics())


def test_a_run_saved_before_references_takes_its_next_evaluation_with_one_as_its_best(tmp_path):
    from ntm.training import loop

    meta = {**loop.new_meta(), "best_cost": 100.0}
    del meta["best_excess"]  # a checkpoint written before the field existed
    tracker, run = _tracked(tmp_path, [(140.0, 133.0), (139.0, 130.0)], meta)
    assert (tracker.best_cost, tracker.best_excess) == (140.0, 7.0)
    assert checkpoint.read_meta(run.path / "best.safetensors")["sequences"] == 1
