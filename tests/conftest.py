"""Shared fixtures for the test suite.

- ``x64``: a fixture that turns on float64 for one test and restores the previous setting after,
  for numeric gradient checks (``jax.test_util.check_grads``) that need double precision.
- ``make_run_dir``: a fixture returning a function that writes a run directory holding an
  untrained tiny model, for tests of what reads run directories.
- ``NTM_COMPILATION_CACHE=0``: the ``ntm`` command called in-process writes no compilation cache.
- Hypothesis runs without a deadline: the first call of a JAX function on a new shape compiles,
  which would otherwise trip the per-example deadline at random.
- The suite runs on pytest-xdist workers, one per core, each given whole files (``--dist
  loadfile`` in pyproject.toml), so a module's fixtures are built once.
"""

from __future__ import annotations

import os

import jax
import pytest

# The ntm command keeps compiled programs in ~/.cache by default; the tests must not write there
# (tests/test_cli.py checks the cache in a subprocess with its own folder).
os.environ["NTM_COMPILATION_CACHE"] = "0"

try:
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "ntm",
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.load_profile("ntm")
except ImportError:  # hypothesis is a dev extra; tests that need it skip themselves
    pass


@pytest.fixture
def x64():
    """Enable float64 for the duration of a test, then restore the previous setting."""
    with jax.enable_x64(True):
        yield



def _make_run_dir(path, **model_args):
    """A run directory holding an untrained model, written with the run directory's own methods
    (the same files as ``ntm.training.train``) without the many seconds of compiling a training
    step; the training loop has its own tests."""
    import equinox as eqx

    from ntm import presets
    from ntm import training as T
    from ntm.runs import Run

    cfg = T.TrainConfig(
        task="copy", task_args=dict(train_lengths=(1, 4)), model="ntm-ff", sequences=16, batch_size=4,
        model_args=model_args, eval_every=16, eval_batch=4, target_cost=None,
    ).resolved()
    model = presets.build_model(cfg.model_config(), jax.random.key(cfg.seed))
    params = eqx.filter(model, T.trainable(model))
    path.mkdir(parents=True)
    run = Run(path)
    run.write_config({"train": cfg.to_dict(), "model": presets.config_to_dict(cfg.model_config()),
                      "task": {"spec": "copy", "args": {"width": 8, "train_lengths": [1, 4]}},
                      "model_name": "ntm-ff", "seed": cfg.seed, "fit": {"batch_size": 4, "curriculum": []}})
    opt_state = T.step.skip_nonfinite(cfg.optimizer_obj()).init(params)
    run.save_state({"params": params, "opt": opt_state}, {"step": 0, "sequences": 0, "wall_time": 0.0, "eval_cost": None})
    return path


@pytest.fixture(scope="session")
def make_run_dir():
    """``make_run_dir(path, **model_args) -> path``: see :func:`_make_run_dir`."""
    return _make_run_dir
