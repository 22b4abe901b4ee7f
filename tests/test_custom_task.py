"""A task of the user's own, defined in this file alone, through every command and the library.

``Reverse``: a sequence of random bit vectors, a delimiter, then the sequence backwards.  It is
found by its import path (``test_custom_task:Reverse``: pytest puts this folder on ``sys.path``),
never registered, and every later command finds it again from the run directory.  The library
half trains a user's own Equinox module holding an NTM with ``fit`` and a loop of one's own
around ``make_step``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import ntm
from ntm import cli
from ntm import training as T
from ntm.runs import Run
from ntm.tasks import Batch, Task


@dataclasses.dataclass(frozen=True)
class Reverse(Task):
    """L random ``width``-bit vectors, a delimiter, then the vectors in reverse order."""

    name: ClassVar[str] = "reverse"
    width: int = 4
    train_lengths: tuple[int, int] = (1, 4)

    def __post_init__(self):
        object.__setattr__(self, "train_lengths", tuple(self.train_lengths))

    @property
    def input_size(self) -> int:
        return self.width + 1

    @property
    def output_size(self) -> int:
        return self.width

    def num_steps(self, length=None) -> int:
        hi = self.train_lengths[1] if length is None else (length if isinstance(length, int) else length[1])
        return 2 * hi + 1

    def sample(self, key, batch_size, length=None) -> Batch:
        lo, hi = self.train_lengths if length is None else ((length, length) if isinstance(length, int) else length)
        steps = self.num_steps(hi)
        k_len, k_bits = jax.random.split(key)
        L = jax.random.randint(k_len, (batch_size, 1), lo, hi + 1)
        bits = jax.random.bernoulli(k_bits, 0.5, (batch_size, hi, self.width)).astype(jnp.float32)
        t = jnp.arange(steps)[None, :]
        shown = jnp.take_along_axis(bits, jnp.clip(t, 0, hi - 1)[..., None], axis=1) * (t < L)[..., None]
        inputs = jnp.concatenate([shown, (t == L)[..., None].astype(jnp.float32)], axis=-1)
        scored = (t > L) & (t <= 2 * L)
        back = jnp.clip(2 * L - t, 0, hi - 1)  # step L+1 shows vector L-1, ..., step 2L shows vector 0
        targets = jnp.take_along_axis(bits, back[..., None], axis=1) * scored[..., None]
        return Batch(inputs, targets, scored.astype(jnp.float32))


SPEC = f"{__name__}:Reverse"
TINY = ["--memory-rows", "12", "--memory-width", "6", "--controller-size", "12", "--batch-size", "4",
        "--target-cost", "none", "--quiet"]


def run_cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_task_is_what_it_says():
    batch = Reverse().sample(jax.random.key(0), 3, 3)
    x, y, m = (np.asarray(a) for a in batch)
    for b in range(3):
        assert x[b, 3, -1] == 1 and m[b].sum() == 3
        np.testing.assert_array_equal(y[b, 4:7], x[b, 2::-1, :-1])  # the vectors backwards


@pytest.fixture(scope="module")
def reverse_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("custom") / "run"
    code = cli.main(["train", SPEC, *TINY, "--sequences", "128", "--out", str(out)])
    assert code == 0
    return out


def test_ntm_train_takes_an_import_path_and_records_it(reverse_run):
    config = json.loads((reverse_run / "config.json").read_text())
    assert config["task"] == {"spec": SPEC, "args": {"width": 4, "train_lengths": [1, 4]}}
    assert config["model"]["input_size"] == 5 and config["model"]["output_size"] == 4
    # No row of the paper's table: the model's own defaults, with the sizes given.
    assert (config["model"]["memory_rows"], config["model"]["controller_size"]) == (12, 12)
    assert isinstance(Run(reverse_run).task(), Reverse)


def test_every_command_finds_the_task_from_the_run_directory(reverse_run, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "eval", reverse_run, "--lengths", "2,6", "--batch-size", "8")
    assert code == 0 and [line.split()[0] for line in out.splitlines()[2:]] == ["2", "6"]
    code, out, _ = run_cli(capsys, "plot", reverse_run, "--out", tmp_path / "curves.png")
    assert code == 0 and len(out.split()) == 2  # learning curve and generalisation
    code, out, _ = run_cli(capsys, "show", reverse_run, "--out", tmp_path / "memory.png")
    assert code == 0 and Path(out.strip()).read_bytes().startswith(b"\x89PNG")
    code, out, _ = run_cli(capsys, "program", reverse_run, "--length", "3")
    assert code == 0 and out.startswith("reverse / ntm-ff: memory 12 x 6") and "write head 0:" in out
    code, out, _ = run_cli(capsys, "view", reverse_run, "--out", tmp_path / "view.html")
    assert code == 0 and "NTM viewer: reverse / ntm-ff" in Path(out.strip()).read_text()


def test_a_custom_task_run_resumes_exactly(reverse_run, tmp_path, capsys):
    import shutil

    split = Path(shutil.copytree(reverse_run, tmp_path / "split"))
    code, out, _ = run_cli(capsys, "train", "--resume", split, "--sequences", "256", "--quiet")
    assert code == 0 and "256 sequences" in out
    whole = tmp_path / "whole"
    assert cli.main(["train", SPEC, *TINY, "--sequences", "256", "--out", str(whole)]) == 0
    a, _ = Run(split).load_model("last")
    b, _ = Run(whole).load_model("last")
    for x, y in zip(jax.tree_util.tree_leaves(eqx.filter(a, eqx.is_array)),
                    jax.tree_util.tree_leaves(eqx.filter(b, eqx.is_array)), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_a_task_from_an_installed_packages_entry_point(monkeypatch):
    from importlib import metadata

    point = metadata.EntryPoint(name="reverse-bits", value=SPEC, group=ntm.tasks.ENTRY_POINT_GROUP)
    real = metadata.entry_points

    def entry_points(**kw):
        return [point] if kw.get("group") == ntm.tasks.ENTRY_POINT_GROUP else real(**kw)

    monkeypatch.setattr(metadata, "entry_points", entry_points)
    assert isinstance(ntm.tasks.get("reverse_bits", width=3), Reverse)


@pytest.mark.parametrize("spec, message", [
    ("no_such_module:Task", "cannot import task 'no_such_module:Task': No module named 'no_such_module'"),
    (f"{__name__}:Nope", f"{__name__} has no 'Nope'"),
    (f"{__name__}:SPEC", "is not a subclass of ntm.tasks.Task"),
])
def test_a_bad_import_path_is_one_line_and_exit_2(spec, message, tmp_path, capsys):
    code, _, err = run_cli(capsys, "train", spec, "--out", tmp_path / "x")
    lines = [line for line in err.splitlines() if line.startswith("ntm: error: ")]
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "x").exists()


# The library: a user's own module holding an NTM, fit with objects, and a loop of one's own.


class WithReadout(eqx.Module):
    """A user's own model: an NTM whose outputs pass through a learned gain."""

    core: ntm.NTM
    gain: jax.Array

    def __call__(self, inputs):
        return self.gain * self.core.run(inputs)


def user_model():
    task = Reverse()
    config = ntm.NTMConfig(input_size=task.input_size, output_size=task.output_size, memory_rows=12,
                           memory_width=6, controller_size=12)
    return WithReadout(ntm.NTM(config, key=jax.random.key(1)), jnp.ones(()))


def test_fit_trains_a_users_module_and_resumes_it_exactly(tmp_path):
    task, opt = Reverse(), optax.chain(optax.clip_by_global_norm(10.0), optax.adam(3e-3))
    settings = dict(batch_size=4, target_cost=None, eval_every=64, progress=False)
    whole = T.fit(user_model(), task, opt, sequences=128, run=tmp_path / "whole", **settings)
    assert whole.stop_reason == "budget" and whole.sequences == 128
    assert float(whole.model.gain) != 1.0  # the user's own parameter trains too
    # The NTM's fixed initial memory is not trained: trainable() asks the NTM inside.
    np.testing.assert_array_equal(np.asarray(whole.model.core.memory0), np.asarray(user_model().core.memory0))
    T.fit(user_model(), task, opt, sequences=64, run=tmp_path / "split", **settings)
    resumed = T.fit(user_model(), task, opt, sequences=128, run=tmp_path / "split", resume=True, **settings)
    for x, y in zip(jax.tree_util.tree_leaves(eqx.filter(whole.model, eqx.is_array)),
                    jax.tree_util.tree_leaves(eqx.filter(resumed.model, eqx.is_array)), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    run = Run(tmp_path / "whole")
    assert run.config["model"] == {"kind": "custom", "class": f"{__name__}:WithReadout"}
    with pytest.raises(ntm.runs.RunError, match="a model of the user's own"):
        run.load_model()
    model, info = run.load_params(user_model(), "last")  # rebuilt in Python from a template
    assert info.which == "last" and float(model.gain) == float(whole.model.gain)
    # A resume must continue the same run.
    with pytest.raises(ntm.runs.RunError, match="another batch_size"):
        T.fit(user_model(), task, opt, sequences=256, run=tmp_path / "split", resume=True,
              **{**settings, "batch_size": 2})


def test_a_loop_of_ones_own_around_make_step_equals_fit(tmp_path):
    # fit's update s trains on task.sample(fold_in(fold_in(key(seed), 1), s), batch): the same
    # batches through make_step give the same parameters, up to float rounding.
    task, opt = Reverse(), optax.adam(3e-3)
    fitted = T.fit(user_model(), task, opt, batch_size=4, sequences=32, target_cost=None, progress=False)
    step = T.make_step(opt, task)
    model, opt_state = user_model(), step.init(user_model())
    data = jax.random.fold_in(jax.random.key(0), 1)
    for s in range(8):
        model, opt_state, stats = step(model, opt_state, task.sample(jax.random.fold_in(data, s), 4))
        assert bool(stats.finite) and np.isfinite(float(stats.cost))
    for x, y in zip(jax.tree_util.tree_leaves(eqx.filter(fitted.model, eqx.is_array)),
                    jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_array)), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)
