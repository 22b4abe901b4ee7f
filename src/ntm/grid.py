"""Experiment grids: many training runs, one after another here, or at once on Ray.

A grid is a list of :class:`Job` s.  A job is one or more :class:`~ntm.training.TrainConfig` s that
differ only in their seed, each with its own run directory: one config trains as ``ntm train``
does, several as an ensemble (one compiled program, :func:`ntm.training.train_ensemble`).  Every
run directory that finishes gets ``result.json`` (the training figures, and the generalisation
sweep of its best checkpoint where the job asks for one), and every start of training appends a
line to its ``attempts.jsonl`` (process, host, and the sequences it started from).

    from ntm import grid, training
    cfgs = [training.TrainConfig(task="copy", seed=s, sequences=20_000) for s in range(4)]
    jobs = [grid.Job(cfgs, [f"runs/copy-seed{s}" for s in range(4)])]
    records = grid.run(jobs)                           # here, in order
    records = grid.run(jobs, ray=True)                 # a local Ray instance, a job per Ray task
    records = grid.run(jobs, ray="ray://head:10001")   # a Ray cluster (any address ray.init takes)

Running a grid again is how it continues: a run directory with ``result.json`` is finished and
is returned as it is (unless it stopped on its sequence or time budget and the config now allows
more), one with a checkpoint resumes from it, and the rest start.  So a grid whose driver was
killed is continued by running it again, and nothing finished is trained again.

On Ray each job is a task with the resources given (``cpus``, and ``gpus``, which may be a
fraction so that trials share a GPU).  A worker that dies in the middle of a job (killed, out of
memory, its node lost) is retried by Ray up to ``max_retries`` times, and the retry resumes each
run from its last checkpoint, as running the grid again would.  An error in a job (a bad
config, a run directory another process is writing) is not retried; it is raised after the
other jobs have finished.  What each worker does about JAX:

- it is a fresh process per job (``max_calls=1``), so JAX's devices are set up for that job;
- on the CPU it makes as many one-thread devices as ``ntm train`` would with ``cpus`` cores
  (:func:`ntm.fast.configure_cpu`), so a run's programs, and its numbers, are those of the
  same run trained here;
- on a GPU it does not preallocate GPU memory (``XLA_PYTHON_CLIENT_PREALLOCATE=false``), so that
  jobs sharing a GPU each take what they use;
- the driver's ``NTM_*``, ``JAX_*`` and ``XLA_*`` environment variables reach the workers.

Run directories must be on storage every node reaches (the same path on each): a local disk
for a one-machine Ray instance, a shared file system for a cluster.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from ntm import checkpoint

__all__ = ["Job", "run", "run_job", "read_result", "RESULT_FILE", "ATTEMPTS_FILE", "GridError"]

RESULT_FILE = "result.json"
ATTEMPTS_FILE = "attempts.jsonl"


class GridError(RuntimeError):
    """Jobs of a grid failed; the others finished.  ``failures`` maps a job's name to its error."""

    def __init__(self, failures: dict[str, BaseException]):
        self.failures = failures
        first = next(iter(failures.items()))
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        super().__init__(f"job {first[0]} failed: {first[1]}{more}")


@dataclasses.dataclass(frozen=True)
class Job:
    """Runs that train together: configs differing only in their seed, one run directory each.

    Attributes:
        configs: the :class:`~ntm.training.TrainConfig` of each run (their budgets included).
        dirs: one run directory per config.
        generalise: evaluate each finished run's best checkpoint at the task's generalisation
            sizes (``Task.eval_points``) and keep the figures in result.json and eval.json.
        extra: more fields for each run's result.json (e.g. the setting of a sweep).
    """

    configs: Sequence[Any]
    dirs: Sequence[str | Path]
    generalise: bool = True
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "configs", tuple(self.configs))
        object.__setattr__(self, "dirs", tuple(str(d) for d in self.dirs))
        if not self.configs or len(self.configs) != len(self.dirs):
            raise ValueError(f"a job needs one run directory per config, got {len(self.configs)} configs "
                             f"and {len(self.dirs)} directories")

    @property
    def name(self) -> str:
        first = Path(self.dirs[0]).name
        return first if len(self.dirs) == 1 else f"{first} (+{len(self.dirs) - 1})"

    @property
    def batch_size(self) -> int:
        """How many sequences one update of the job computes at once (an ensemble: its members)."""
        if len(self.configs) > 1:
            return len(self.configs)
        return self.configs[0].resolved().batch_size


def read_result(path: str | Path) -> dict[str, Any] | None:
    """The result.json of a run directory, or None where it has none."""
    file = Path(path) / RESULT_FILE
    return json.loads(file.read_text()) if file.is_file() else None


def _finished(out: str, cfg) -> dict[str, Any] | None:
    """The run's result if it is final for this config: it solved, stopped on non-finite updates,
    or stopped on a budget that the config does not raise."""
    done = read_result(out)
    if done is None:
        return None
    on_budget = done["stop_reason"] in ("time budget", "budget")
    more_time = cfg.time_budget is None or cfg.time_budget > done["wall_time"] + 1.0
    if on_budget and more_time and cfg.sequences > done["sequences"]:
        return None
    return done


def _note_attempt(out: str) -> None:
    from ntm import runs

    run = runs.Run(out)
    info = run.checkpoint_info("last") if run.exists() else None
    line = {"pid": os.getpid(), "host": socket.gethostname(), "time": time.time(),
            "from_sequences": 0 if info is None else info.sequences}
    Path(out).mkdir(parents=True, exist_ok=True)
    with open(Path(out) / ATTEMPTS_FILE, "a") as f:
        f.write(json.dumps(line) + "\n")


def _record(out: str, cfg, result, job: Job) -> dict[str, Any]:
    import jax

    from ntm import evaluate, paper, presets, runs

    task = cfg.task_obj()
    record = {
        "task": task.name, "model": cfg.model, "seed": cfg.seed,
        "parameters": presets.count_parameters(result.model),
        "paper_parameters": paper.PAPER[(task.name, cfg.model)].paper_parameters
        if (task.name, cfg.model) in paper.PAPER else None,
        "sequences": result.sequences, "wall_time": result.wall_time, "eval_cost": result.eval_cost,
        "best_cost": result.best_cost, **({"best_excess": result.best_excess} if result.best_excess is not None else {}),
        "target_cost": cfg.target_cost, "solved": result.solved, "stop_reason": result.stop_reason,
        "generalisation": [], "generalisation_checkpoint": None, **job.extra,
    }
    if job.generalise:  # the best checkpoint, which eval, show and plot use; stored with it too
        run = runs.Run(out)
        best, info = run.load_model("best")
        records = evaluate.sweep(best, task, key=jax.random.key(1000 + cfg.seed))
        run.add_evaluation(records, info, batch_size=64, seed=1000 + cfg.seed)
        record["generalisation"] = records
        record["generalisation_checkpoint"] = info.describe()
    checkpoint.atomic_write_text(Path(out) / RESULT_FILE, json.dumps(record, indent=2) + "\n")
    return record


def run_job(job: Job, *, progress: bool = True) -> list[dict[str, Any]]:
    """Train (resume, or skip where finished) the runs of ``job``; their result records, in order.

    Raises:
        KeyboardInterrupt: training was interrupted (every run is checkpointed; run it again).
        ValueError, ntm.runs.RunError: a bad config or run directory.
    """
    from ntm import runs, training

    records: list[dict[str, Any] | None] = [_finished(d, c) for c, d in zip(job.configs, job.dirs)]
    todo = [i for i, r in enumerate(records) if r is None]
    if not todo:
        return records  # type: ignore[return-value]
    for i in todo:
        _note_attempt(job.dirs[i])
    if len(todo) == 1:
        cfg, out = job.configs[todo[0]], job.dirs[todo[0]]
        if runs.Run(out).exists():  # (one stopped before its first checkpoint starts again)
            results = [training.resume(out, sequences=cfg.sequences, time_budget=cfg.time_budget, progress=progress)]
        else:
            results = [training.train(cfg, out, progress=progress)]
    else:
        results = training.train_ensemble([job.configs[i] for i in todo], [job.dirs[i] for i in todo],
                                          resume=True, progress=progress)
    if any(r.stop_reason == "interrupted" for r in results):
        raise KeyboardInterrupt  # checkpointed; the next call resumes
    for i, result in zip(todo, results):
        records[i] = _record(job.dirs[i], job.configs[i], result, job)
    return records  # type: ignore[return-value]


def _worker_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.startswith(("NTM_", "JAX_", "XLA_"))}
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    return env


def _in_worker(job: Job, cpus: int, gpus: float) -> list[dict[str, Any]]:
    """A job in a fresh Ray worker process: JAX set up as ``ntm train`` would on ``cpus`` cores."""
    from ntm import cli, fast

    if not gpus:
        fast.configure_for_training({c.model for c in job.configs}, job.batch_size, cores=cpus)
    cli._enable_compilation_cache()
    return run_job(job, progress=False)


def _ray_task(cpus: int, gpus: float, max_retries: int):
    """The Ray remote function that runs a job: ``.remote(job, cpus, gpus)``."""
    import ray

    return ray.remote(max_calls=1)(_in_worker).options(
        num_cpus=cpus, num_gpus=gpus, max_retries=max_retries, runtime_env={"env_vars": _worker_env()},
    )


def _connect(address: str | bool) -> bool:
    """Initialise Ray (True: a local instance, or the cluster in ``RAY_ADDRESS`` where that is
    set; a string: that cluster); False, doing nothing, where this process already has."""
    import ray

    if ray.is_initialized():
        return False
    if address is True or address in ("", "local"):
        ray.init(include_dashboard=False)
    else:
        ray.init(address=address)
    return True


def run(
    jobs: Sequence[Job],
    *,
    ray: bool | str = False,
    cpus: int = 1,
    gpus: float = 0,
    max_retries: int = 3,
    progress: bool = True,
    on_result: Callable[[Job, list[dict[str, Any]]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every job; the result records of all their runs, in the jobs' order.

    Args:
        jobs: the grid.
        ray: False runs the jobs here, one after another; True on a local Ray instance (started
            here, with every core, unless Ray is already initialised in this process); a string
            is the address of a Ray cluster (``ray.init(address=...)``).
        cpus, gpus: the resources each job asks Ray for (``gpus`` may be a fraction).
        max_retries: how often Ray retries a job whose worker died.
        progress: here, each run's progress bar; on Ray, a bar over the jobs and a line per job.
        on_result: called with each job and its records as it finishes.

    Raises:
        GridError: on Ray, jobs failed; raised after every other job has finished.  Here, a job's
            error is raised as it is, and the jobs after it do not run.
        KeyboardInterrupt: interrupted (every run is checkpointed; run the grid again to continue).
        ImportError: ``ray`` was asked for and is not installed (``pip install "neural-turing-machines[ray]"``).
    """
    if cpus < 1 or gpus < 0 or max_retries < 0:
        raise ValueError(f"cpus must be >= 1, gpus >= 0 and max_retries >= 0, got {cpus}, {gpus}, {max_retries}")
    by_job: list[list[dict[str, Any]] | None] = [None] * len(jobs)
    if not ray:
        for i, job in enumerate(jobs):
            by_job[i] = run_job(job, progress=progress)
            if on_result:
                on_result(job, by_job[i])
    else:
        by_job = _run_on_ray(jobs, ray, cpus, gpus, max_retries, progress, on_result)
    return [r for records in by_job for r in records]  # type: ignore[union-attr]


def _run_on_ray(jobs, address, cpus, gpus, max_retries, progress, on_result):
    try:
        import ray
    except ImportError as exc:
        raise ImportError('Ray is not installed: pip install "neural-turing-machines[ray]"') from exc
    from tqdm.auto import tqdm

    started = _connect(address)
    try:
        task = _ray_task(cpus, gpus, max_retries)
        pending = {task.remote(job, cpus, gpus): i for i, job in enumerate(jobs)}
        by_job: list[Any] = [None] * len(jobs)
        failures: dict[str, BaseException] = {}
        bar = tqdm(total=len(jobs), desc="jobs", unit="job", disable=not progress, file=sys.stderr)
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            i = pending.pop(ready[0])
            try:
                by_job[i] = ray.get(ready[0])
            except ray.exceptions.RayTaskError as exc:
                failures[jobs[i].name] = exc.as_instanceof_cause()
            except ray.exceptions.RayError as exc:  # the worker died more often than it may be retried
                failures[jobs[i].name] = exc
            else:
                if on_result:
                    on_result(jobs[i], by_job[i])
                if progress:
                    costs = ", ".join("-" if r["eval_cost"] is None else f"{r['eval_cost']:.3g}" for r in by_job[i])
                    bar.write(f"{jobs[i].name}: {by_job[i][0]['stop_reason']}, evaluation cost {costs} bits")
            bar.update(1)
        bar.close()
        if failures:
            raise GridError(failures)
        return by_job
    finally:
        if started:
            ray.shutdown()
