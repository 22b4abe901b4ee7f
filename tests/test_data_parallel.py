"""Training with each batch split across devices (ntm.training.data_parallel_devices) computes what one
device computes, and a split run resumes bit for bit.

JAX fixes its number of CPU devices when its client is created, so these tests run in a fresh
process with two CPU devices (on any machine: the count is set, not detected).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from ntm import cli
from ntm import training as T

SCRIPT = textwrap.dedent(
    """
    import json, sys, tempfile
    import jax
    jax.config.update("jax_num_cpu_devices", 2)
    import equinox as eqx, jax.numpy as jnp, numpy as np
    from ntm import presets
    from ntm import training as T
    from ntm.training import parallel, step

    out = {"devices": [T.data_parallel_devices(b) for b in (1, 3, 4, 6)]}
    tiny = dict(task="copy", model="ntm-ff", batch_size=4, target_cost=None,
                model_args=dict(memory_rows=16, memory_width=8, controller_size=16))
    cfg = T.TrainConfig(**tiny, sequences=64, eval_every=32, eval_batch=6).resolved()
    model = presets.build_model(cfg.model_config(), jax.random.key(0))
    params, static = eqx.partition(model, T.trainable(model))
    optimizer = step.skip_nonfinite(cfg.optimizer_obj())
    opt_state = optimizer.init(params)
    task = cfg.task_obj()
    loss = step.loss_of(task)

    # One update's cost and gradient: the batch on one device, and split over two.
    batch = task.sample(jax.random.key(3), 4)
    def cost_and_grads(p, b):
        return jax.value_and_grad(lambda p: loss(eqx.combine(p, static), b), has_aux=True)(p)
    one = jax.jit(cost_and_grads)(params, batch)
    two = jax.jit(parallel.split_batch(cost_and_grads, 2))(params, batch)
    diffs = [float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / (1e-6 + float(np.max(np.abs(np.asarray(a))))))
             for a, b in zip(jax.tree_util.tree_leaves(one), jax.tree_util.tree_leaves(two))]
    out["grad_rel_diff"] = max(diffs)
    out["grad_leaves"] = len(diffs)
    out["two_spans"] = sorted({len(x.sharding.device_set) for x in jax.tree_util.tree_leaves(two)})

    # Eight updates through the training loop's compiled call: one device against two.
    key = jax.random.key(0)
    spec1 = step.UpdatesSpec(task, optimizer, loss, 4, 8, 1)
    p1, o1, s1 = step.run_updates(model, opt_state, key, jnp.asarray(0), jnp.asarray(8), spec1)
    model2, opt2 = parallel.replicate((model, opt_state), 2)
    p2, o2, s2 = step.run_updates(model2, opt2, key, jnp.asarray(0), jnp.asarray(8), spec1._replace(devices=2))
    out["cost_one"] = np.asarray(s1.cost).tolist()
    out["cost_two"] = np.asarray(s2.cost).tolist()
    out["param_max_diff"] = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                                for a, b in zip(jax.tree_util.tree_leaves(p1), jax.tree_util.tree_leaves(p2)))

    # A loop of one's own around make_step: the same three updates on one device and split over two.
    stepped = {}
    for d in (1, 2):
        update = T.make_step(cfg.optimizer_obj(), task, devices=d)
        m, o = model, update.init(model)
        for i in range(3):
            m, o, stats = update(m, o, task.sample(jax.random.key(10 + i), 4))
        stepped[d] = jax.tree_util.tree_leaves(eqx.filter(m, eqx.is_array))
    out["make_step_max_diff"] = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                                    for a, b in zip(stepped[1], stepped[2]))

    # A whole run split over two devices, against the same run stopped half way and resumed.
    with tempfile.TemporaryDirectory() as d:
        whole = T.train(T.TrainConfig(**tiny, sequences=64, eval_every=32, eval_batch=6), d + "/whole", progress=False)
        T.train(T.TrainConfig(**tiny, sequences=32, eval_every=32, eval_batch=6), d + "/split", progress=False)
        resumed = T.resume(d + "/split", sequences=64, progress=False)
        a = jax.tree_util.tree_leaves(eqx.filter(whole.model, eqx.is_array))
        b = jax.tree_util.tree_leaves(eqx.filter(resumed.model, eqx.is_array))
        out["resume_equal"] = all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b))
        out["eval_costs"] = [whole.eval_cost, resumed.eval_cost]
        out["result_spans"] = sorted({len(x.sharding.device_set) for x in a})
        # The model handed back lives on one device, so it mixes with arrays made there.
        committed = jax.device_put(jnp.zeros((2, 5, 9)), jax.devices()[0])
        out["runs"] = bool(np.isfinite(np.asarray(whole.model.run(committed))).all())
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def two_devices() -> dict:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_batch_is_split_over_as_many_devices_as_divide_it(two_devices):
    assert two_devices["devices"] == [1, 1, 2, 2]
    assert T.data_parallel_devices(4) == 1  # this process has JAX's default single CPU device


def test_split_cost_and_gradient_equal_the_whole_batch(two_devices):
    # Each device's mean over its half, averaged: the whole batch's mean, up to float rounding.
    assert two_devices["grad_leaves"] > 5
    assert two_devices["grad_rel_diff"] < 1e-4  # float32 rounding through 41 steps: about 3e-5
    assert two_devices["two_spans"] == [2]  # replicated on both devices after the all-reduce


def test_split_updates_follow_the_one_device_updates(two_devices):
    one, two = two_devices["cost_one"], two_devices["cost_two"]
    assert len(one) == len(two) == 8
    assert all(abs(a - b) <= 1e-4 * max(1.0, abs(a)) for a, b in zip(one, two))
    assert two_devices["param_max_diff"] < 1e-4


def test_a_loop_of_ones_own_around_make_step_splits_as_the_training_loop_does(two_devices):
    assert two_devices["make_step_max_diff"] < 1e-4


def test_a_split_run_resumes_bit_for_bit_and_returns_a_one_device_model(two_devices):
    assert two_devices["resume_equal"]
    assert two_devices["eval_costs"][0] == two_devices["eval_costs"][1]
    assert two_devices["result_spans"] == [1]
    assert two_devices["runs"]


def test_the_ntm_command_makes_as_many_cpu_devices_as_the_training_batch_splits_over(tmp_path, monkeypatch):
    from ntm import fast

    parse = cli._parser().parse_args

    def plan(argv):  # what the command will train, as main reads it before JAX starts
        return cli._training_plan(parse(argv))

    def devices(plan):  # the devices main creates for it (ntm.fast.configure_for_training)
        return fast.training_devices(None, None) if plan is None else fast.training_devices(plan.models, plan.batch_size)

    monkeypatch.setattr(fast, "cpu_count", lambda: 2)
    assert devices(plan(["train", "repeat_copy"])) == 2  # the default batch, 8
    assert devices(plan(["train", "copy"])) == 1  # copy's measured recipe trains at batch 1
    assert devices(plan(["train", "copy", "--batch-size", "3"])) == 1
    assert devices(plan(["train", "copy", "--preset", "paper"])) == 1  # the paper's batch of 1
    assert devices(plan(["reproduce", "--tasks", "copy"])) == 2
    assert devices(plan(["demo", "copy"])) == 1
    monkeypatch.setattr(fast, "cpu_count", lambda: 4)
    assert devices(plan(["train", "copy", "--batch-size", "6"])) == 3
    run = tmp_path / "run"
    run.mkdir()
    cfg = T.TrainConfig(task="copy", model="ntm-ff", batch_size=4).resolved()
    (run / "config.json").write_text(json.dumps({"train": cfg.to_dict(), "model": {"kind": "ntm"}}))
    assert devices(plan(["train", "--resume", str(run)])) == 4
    assert devices(plan(["train", "--resume", str(tmp_path / "missing")])) == 1
