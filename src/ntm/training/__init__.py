"""Training as a library: any model, any task, any optax optimiser.

    import jax, optax, ntm
    task = ntm.tasks.get("copy")
    model = ntm.build_model(ntm.model_config(task, "ntm-ff"), jax.random.key(0))
    result = ntm.training.fit(model, task, optax.chain(optax.clip(10.0), optax.adam(3e-3)),
                              batch_size=8, run="runs/my-copy")
    result.model, result.sequences, result.eval_cost, result.stop_reason

- :func:`fit`: the loop (updates compiled many to a call, batches sampled on the device,
  data parallelism over devices, skipped non-finite updates, exact resume, checkpoints last and
  best, metrics.csv and TensorBoard, a progress bar).
- :func:`make_step`: the update step alone, for a loop of one's own.
- :func:`fit_ensemble`: K independent models (one per seed) in one compiled program, vmapped
  over the members, each the run ``fit`` would make alone; :func:`train_ensemble` from configs.
- :class:`TrainConfig`, :func:`train`, :func:`resume`: the JSON / command-line configuration,
  which builds the objects above (``ntm train`` is a thin layer over them).
- :func:`make_optimizer`, :func:`paper_rmsprop`: the optimisers the command line names.

Files: ``step.py`` (the update), ``loop.py`` (fit), ``ensemble.py`` (fit_ensemble),
``parallel.py`` (devices), ``optimizers.py`` (named optimisers), ``config.py`` (the adapter).
"""

from ntm.runs import Run, RunError
from ntm.training.config import TrainConfig, read_config, resume, train
from ntm.training.ensemble import fit_ensemble, train_ensemble
from ntm.training.loop import FitResult, Stage, fit
from ntm.training.optimizers import make_optimizer, paper_rmsprop
from ntm.training.parallel import data_parallel_devices
from ntm.training.step import Step, StepStats, apply, make_step, task_loss, trainable

__all__ = [
    "fit",
    "FitResult",
    "fit_ensemble",
    "train_ensemble",
    "Stage",
    "make_step",
    "Step",
    "StepStats",
    "apply",
    "task_loss",
    "trainable",
    "TrainConfig",
    "train",
    "resume",
    "read_config",
    "make_optimizer",
    "paper_rmsprop",
    "data_parallel_devices",
    "Run",
    "RunError",
]
