"""The ``ntm`` command: a thin layer that parses arguments and calls library functions.

    ntm train copy                      # train until solved; writes runs/copy-ntm-ff-seed0
    ntm eval runs/copy-ntm-ff-seed0     # cost and bit errors at lengths 10 .. 120
    ntm plot runs/copy-ntm-ff-seed0     # learning curve (+ generalisation curve after eval)
    ntm show runs/copy-ntm-ff-seed0     # memory access of one sequence, as in the paper

Every command is a function of :mod:`ntm.training`, :mod:`ntm.runs`, :mod:`ntm.evaluate` or :mod:`ntm.viz` first;
this module only turns flags into arguments and results into text.  Errors the user can fix (a bad
flag, a missing or corrupt run directory, an incompatible checkpoint) print one line,
``ntm: error: ...``, on stderr and exit with status 2, having changed nothing on disk.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, NamedTuple, Sequence

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EVAL_FILE = "eval.json"


_UNSET = object()  # a flag not given (None is a value: --target-cost none)


class _UsageError(Exception):
    """A command-line mistake; main() prints it on one line and exits 2."""


class _Parser(argparse.ArgumentParser):
    # argparse prints the whole usage and exits by itself; we want one line and a return code.
    def error(self, message: str):
        raise _UsageError(f"{message} (see '{self.prog} --help')")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    # Show real defaults; flags whose default comes from elsewhere (a preset) say so in their help.
    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        hidden = any(action.default is x for x in (None, False, _UNSET, argparse.SUPPRESS))
        if "default" not in text and not hidden:
            text += " (default: %(default)s)"
        return text


def _err(message: str) -> None:
    print(f"ntm: error: {message}", file=sys.stderr)


def _info(message: str) -> None:
    print(message, file=sys.stderr)


def _sizes(text: str) -> list:
    """Parse ``10,20,1-20`` into ``[10, 20, (1, 20)]`` (a ``lo-hi`` item is a range drawn per sequence)."""
    out: list = []
    for item in text.split(","):
        item = item.strip()
        try:
            if "-" in item[1:]:
                lo, hi = item.split("-", 1)
                out.append((int(lo), int(hi)))
            else:
                out.append(int(item))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected sizes like 10,20,30 or 1-20, got {text!r}") from None
    return out


def _target_cost(text: str) -> float | None:
    if text.strip().lower() in ("none", "off", "never"):
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected bits per sequence or 'none', got {text!r}") from None


def _stage(text: str) -> dict[str, Any]:
    """``SEQUENCES:FIELD=VALUE[,FIELD=VALUE...]`` -> a curriculum stage; ``LO-HI`` values are ranges."""
    until, sep, rest = text.partition(":")
    try:
        stage: dict[str, Any] = {"until": int(until.replace("_", "")), "task_args": {}}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected SEQUENCES:FIELD=VALUE, got {text!r}") from None
    for item in rest.split(",") if sep else []:
        name, eq, value = (part.strip() for part in item.partition("="))
        if not (name and eq and value):
            raise argparse.ArgumentTypeError(f"expected FIELD=VALUE in {text!r}, got {item!r}")
        try:
            lo, dash, hi = value.partition("-")
            stage["task_args"][name] = [int(lo), int(hi)] if dash and lo else int(value)
        except ValueError:
            try:
                stage["task_args"][name] = float(value)
            except ValueError:
                raise argparse.ArgumentTypeError(f"{name}: expected an integer, LO-HI or a number, got {value!r}") from None
    return stage


def _lr_step(text: str) -> dict[str, Any]:
    """``SEQUENCES:LR`` -> a learning-rate schedule entry."""
    start, sep, lr = text.partition(":")
    try:
        return {"from": int(start.replace("_", "")), "learning_rate": float(lr)}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected SEQUENCES:LR (e.g. 100000:1e-4), got {text!r}") from None


def _seeds(text: str) -> list[int]:
    """``0-7``, ``0,3,5`` or both (``0-3,8``) -> the seeds of an ensemble, in order, each once."""
    seeds: list[int] = []
    for item in text.split(","):
        lo, dash, hi = item.strip().partition("-")
        try:
            first, last = (int(lo), int(hi)) if dash else (int(lo), int(lo))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected seeds like 0-7 or 0,3,5, got {text!r}") from None
        if first < 0 or last < first:
            raise argparse.ArgumentTypeError(f"expected a range LO-HI with 0 <= LO <= HI, got {item.strip()!r}")
        seeds.extend(range(first, last + 1))
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"each seed once, got {text!r}")
    return seeds


# ---------------------------------------------------------------------------------------------
# ntm train


def _model_args(args: argparse.Namespace) -> dict[str, Any]:
    """Model overrides from flags; the LSTM baseline has no memory, and its size is hidden_size."""
    memory_flags = {
        "--heads": args.heads,
        "--memory-rows": args.memory_rows,
        "--memory-width": args.memory_width,
        "--memory-init": args.memory_init,
        "--memory-init-std": args.memory_init_std,
        "--weighting-init": args.weighting_init,
    }
    if args.model == "lstm":
        given = [flag for flag, value in memory_flags.items() if value is not None]
        if given:
            raise ValueError(f"{', '.join(given)} apply to NTM models only: the lstm baseline has no memory")
        return {} if args.controller_size is None else {"hidden_size": args.controller_size}
    model_args: dict[str, Any] = {}
    if args.heads is not None:  # the paper counts heads as read/write pairs
        model_args.update(read_heads=args.heads, write_heads=args.heads)
    for name in ("controller_size", "memory_rows", "memory_width", "memory_init", "memory_init_std", "weighting_init"):
        if getattr(args, name) is not None:
            model_args[name] = getattr(args, name)
    return model_args


_TRAIN_SETTINGS = (
    "task", "model", "preset", "batch_size", "seed", "out", "lr", "optimizer", "grad_clip", "clip", "heads",
    "controller_size", "memory_rows", "memory_width", "memory_init", "memory_init_std", "weighting_init",
    "target_cost", "time_budget", "max_skipped",
    "overwrite", "stage", "lr_from", "seeds",
)


_LENGTH_HELP = "the task's main size: sequence length, or items for associative_recall (default: the top of the training range)"

# Settings that --resume may change: they decide when a run stops, not what an update computes.
_RESUME_SETTINGS = ("target_cost", "time_budget", "max_skipped")
_STOPPING_FIELDS = ("sequences", "target_cost", "time_budget", "max_skipped")


def _given(value: Any, name: str) -> bool:
    if name == "overwrite":
        return bool(value)
    return value is not _UNSET if name == "target_cost" else value is not None


def _quote(path: Path | str) -> str:
    import shlex

    return shlex.quote(str(path))


def _cmd_train(args: argparse.Namespace) -> int:
    from ntm import runs, training

    if args.resume is not None:
        given = [
            f"--{n.replace('_', '-')}" for n in _TRAIN_SETTINGS
            if n not in _RESUME_SETTINGS and _given(getattr(args, n), n)
        ]
        if given:
            given = [("TASK" if g == "--task" else g) for g in given]
            raise _UsageError(
                f"--resume continues a run with its saved settings; only --sequences and the stopping "
                f"options may change (remove {', '.join(given)})"
            )
        cfg = training.read_config(args.resume)
        _info(f"resuming {args.resume}: {cfg.task} {cfg.model}")
        return _continue(runs.Run(args.resume), args)

    if args.task is None:
        raise _UsageError("give a TASK to train (e.g. 'ntm train copy') or --resume DIR")
    model = args.model or "ntm-ff"
    args.model = model
    fields: dict[str, Any] = dict(task=args.task, model=model, model_args=_model_args(args))
    optional = dict(
        preset=args.preset, sequences=args.sequences, batch_size=args.batch_size, seed=args.seed,
        learning_rate=args.lr, optimizer=args.optimizer, grad_clip=args.grad_clip, clip=args.clip,
        time_budget=args.time_budget, max_skipped=args.max_skipped,
    )
    fields.update({k: v for k, v in optional.items() if v is not None})
    if args.stage:
        fields["curriculum"] = args.stage
    if args.lr_from:
        fields["lr_schedule"] = args.lr_from
    if args.target_cost is not _UNSET:
        fields["target_cost"] = args.target_cost  # a float, or None from "none"
    if args.seeds is not None:
        return _train_seeds(args, fields)
    cfg = training.TrainConfig(**fields).resolved()
    if args.out is not None:
        out = Path(args.out)
    else:
        out, same = _default_out(cfg)
        if same and not args.overwrite:  # the same command again: carry on with that run
            _info(f"{out} already holds a run with these settings: continuing it (--overwrite starts it again)")
            return _continue(runs.Run(out), args, cfg)
    until = f"< {cfg.target_cost:g} bits/sequence or " if cfg.target_cost is not None else ""
    _info(
        f"training {cfg.task} with {cfg.model} ({cfg.optimizer}, lr {cfg.learning_rate:g}, batch {cfg.batch_size}, "
        f"seed {cfg.seed}) until {until}{cfg.sequences:,} sequences -> {out}"
    )
    result = training.train(cfg, out, progress=not args.quiet, overwrite=args.overwrite)
    return _report_training(result, out)


def _train_seeds(args: argparse.Namespace, fields: dict[str, Any]) -> int:
    """``ntm train TASK --seeds 0-7``: one member per seed in one compiled program
    (ntm.training.train_ensemble), each with the run directory ``ntm train --seed S`` would write,
    under runs/ or --out ROOT; the same command again carries on with those runs."""
    from ntm import training

    if args.seed is not None:
        raise _UsageError("give either --seed (one run) or --seeds (an ensemble), not both")
    cfgs = [training.TrainConfig(**fields, seed=seed).resolved() for seed in args.seeds]
    root = Path("runs") if args.out is None else Path(args.out)
    outs, same = zip(*(_default_out(cfg, root) for cfg in cfgs))
    resume = any(same) and not args.overwrite
    if resume:
        _info(f"{sum(same)} of the members already have runs with these settings: continuing them "
              f"(--overwrite starts them again)")
    cfg = cfgs[0]
    until = f"< {cfg.target_cost:g} bits/sequence or " if cfg.target_cost is not None else ""
    _info(
        f"training {len(cfgs)} members of {cfg.task} with {cfg.model} ({cfg.optimizer}, lr {cfg.learning_rate:g}, "
        f"batch {cfg.batch_size}, seeds {', '.join(map(str, args.seeds))}) until {until}{cfg.sequences:,} sequences "
        f"each -> {root}/"
    )
    results = training.train_ensemble(cfgs, list(outs), progress=not args.quiet, overwrite=args.overwrite,
                                      resume=resume)
    verdict = {"solved": "solved", "budget": "sequence budget spent", "time budget": "time budget spent"}
    status = EXIT_OK
    for seed, out, result in zip(args.seeds, outs, results):
        cost = "-" if result.eval_cost is None else f"{result.eval_cost:.4g} bits/sequence"
        summary = f"{result.sequences:,} sequences in {result.wall_time:.0f} s; evaluation cost {cost}"
        if result.stop_reason.startswith("stopped"):
            _err(f"seed {seed}: training {result.stop_reason}; try a lower --lr. Run directory: {out}")
            status = EXIT_FAILED
        else:
            print(f"seed {seed}: {verdict.get(result.stop_reason, result.stop_reason)}: {summary} -> {out}")
    if any(r.stop_reason == "interrupted" for r in results):
        _info("interrupted; the same command continues the members")
        return EXIT_INTERRUPTED
    members = _quote(root / (os.path.commonprefix([out.name for out in outs]) + "*"))
    print(f"{sum(r.solved for r in results)} of {len(results)} members solved; each directory is a run of its own. "
          f"next: ntm plot {members}; ntm eval DIR; ntm train --resume DIR")
    return status


def _default_out(cfg, root: Path = Path("runs")) -> tuple[Path, bool]:
    """``runs/TASK-MODEL[-paper]-seedS`` (under ``root``), or with ``-2``, ``-3`` ... where that holds
    a run of other settings; and whether the directory holds a run of these very settings (stopping
    rules aside)."""
    from ntm import runs, tasks

    name = tasks.get(cfg.task, **cfg.task_args).name
    base = f"{name}-{cfg.model}{'-paper' if cfg.preset == 'paper' else ''}-seed{cfg.seed}"
    wanted = {k: v for k, v in cfg.to_dict().items() if k not in _STOPPING_FIELDS}
    for i in range(1, 1000):
        out = root / (base if i == 1 else f"{base}-{i}")
        run = runs.Run(out)
        if not run.has_checkpoint():
            return out, False
        saved = run.config.get("train") or {}
        if {k: v for k, v in saved.items() if k not in _STOPPING_FIELDS} == json.loads(json.dumps(wanted)):
            return out, True
    raise _UsageError(f"{root}/{base}-*: too many runs; choose a directory with --out")


def _continue(run, args: argparse.Namespace, cfg=None) -> int:
    """Resume ``run`` with the stopping settings given on the command line."""
    from ntm import checkpoint, runs, training

    stopping: dict[str, Any] = {n: getattr(args, n) for n in _RESUME_SETTINGS if _given(getattr(args, n), n)}
    sequences = args.sequences
    if cfg is not None:  # the same settings as a new command: its stopping rules apply
        stopping.update({n: getattr(cfg, n) for n in _RESUME_SETTINGS})
        sequences = cfg.sequences
    before = None
    if (run.path / runs.CHECKPOINT_FILE).is_file():
        before = checkpoint.read_meta(run.path / runs.CHECKPOINT_FILE)
    result = training.resume(run.path, sequences=sequences, progress=not args.quiet, **stopping)
    if before is not None and result.sequences == before["sequences"]:
        cost = "-" if result.eval_cost is None else f"{result.eval_cost:.4g} bits/sequence"
        if result.stop_reason == "solved":
            why = (f"it is solved (evaluation cost {cost}); to train on, pass --target-cost none or a lower "
                   f"--target-cost, and a larger --sequences")
        elif result.stop_reason == "time budget":
            why = f"its time budget is spent ({result.wall_time:.0f} s); pass a larger --time-budget"
        else:
            why = f"its budget of {result.sequences:,} sequences is spent; pass a larger --sequences"
        print(f"nothing to train in {run.path}: {why}")
        _print_next(run.path, result.run.model_name if result.run else "")
        return EXIT_OK
    return _report_training(result, run.path)


def _print_next(out: Path, model: str) -> None:
    q = _quote(out)
    steps = [f"ntm eval {q}", f"ntm plot {q}"]
    if model != "lstm":  # the baseline has no memory to show
        steps += [f"ntm show {q}", f"ntm program {q}"]
    print(f"run directory: {out}   next: {'; '.join(steps)}")


def _report_training(result, out: Path) -> int:
    cost = "-" if result.eval_cost is None else f"{result.eval_cost:.4g} bits/sequence"
    summary = f"{result.sequences:,} sequences in {result.wall_time:.0f} s; evaluation cost {cost}"
    if result.stop_reason.startswith("stopped"):
        _err(f"training {result.stop_reason}; try a lower --lr. Run directory: {out}")
        return EXIT_FAILED
    if result.stop_reason == "interrupted":
        _info(f"interrupted after {summary}; continue with: ntm train --resume {_quote(out)}")
        return EXIT_INTERRUPTED
    verdict = {"solved": "solved", "budget": "sequence budget spent", "time budget": "time budget spent"}
    print(f"{verdict.get(result.stop_reason, result.stop_reason)}: {summary}")
    _print_next(out, result.run.model_name if result.run is not None else "")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# ntm eval


def _format_size(size: Any) -> str:
    return f"{size[0]}-{size[1]}" if isinstance(size, (list, tuple)) else str(size)


_SCORE_COLUMNS = {"cost_bits": "cost (bits/seq)", "bit_errors": "bit errors/seq", "bit_error_rate": "bit-error rate"}
_EXTRA_COLUMNS = {"optimal_cost_bits": "optimal (bits)"}


def _table_header(task, extra_scores: Sequence[str] = ()) -> str:
    cols = [f"{task.size_label:>8}"] + [f"{name:>8}" for name in task.extra_sizes]
    cols += [f"{title:>16}" for title in _SCORE_COLUMNS.values()]
    cols += [f"{_EXTRA_COLUMNS.get(name, name):>16}" for name in extra_scores]
    return "  ".join(cols)


def _table_row(task, r: dict[str, Any], extra_scores: Sequence[str] = ()) -> str:
    cols = [f"{_format_size(r['length']):>8}"] + [f"{_format_size(r.get(n, '-')):>8}" for n in task.extra_sizes]
    cols += [f"{r['cost_bits']:>16.4f}", f"{r['bit_errors']:>16.3f}", f"{r['bit_error_rate']:>16.5f}"]
    cols += [f"{r[name]:>16.3f}" for name in extra_scores]
    return "  ".join(cols)


def _extra_scores(task) -> list[str]:
    """Scores a task reports besides the usual three (dynamic n-grams: the optimal cost)."""
    import jax

    batch = jax.eval_shape(lambda: task.sample(jax.random.key(0), 1))
    logits = jax.ShapeDtypeStruct(batch.targets.shape, batch.targets.dtype)
    names = jax.eval_shape(task.scores, logits, batch)
    return [n for n in names if n not in _SCORE_COLUMNS]


def _run_eval(run, which: str, lengths, repeats, batch_size: int, seed: int, on_loaded=None, callback=None):
    """Load a run's checkpoint, sweep it, and store the records with that checkpoint in eval.json;
    returns ``(records, checkpoint_info, saved)``: ``saved`` is the eval.json path, or the reason
    it could not be written."""
    import jax

    from ntm import evaluate

    task = run.task()
    model, info = run.load_model(which)
    if on_loaded is not None:
        on_loaded(task, info)
    records = evaluate.sweep(
        model, task, lengths, repeats=repeats, batch_size=batch_size, key=jax.random.key(seed), callback=callback,
    )
    if run.shipped:
        return records, info, "not saved: shipped models are read-only"
    try:
        saved: Any = run.add_evaluation(records, info, batch_size=batch_size, seed=seed)
    except OSError as exc:
        saved = f"could not save the evaluation in {run.path / 'eval.json'}: {exc.strerror or exc}"
    return records, info, saved


def _cmd_eval(args: argparse.Namespace) -> int:
    from ntm import runs

    run = runs.Run(args.run_dir)
    task = run.task()
    if args.repeats is not None and "repeats" not in task.extra_sizes:
        raise _UsageError(f"--repeats applies to repeat_copy only; {args.run_dir} trains {task.name}")
    if args.batch_size < 1:
        raise _UsageError(f"--batch-size must be a positive integer, got {args.batch_size}")
    extra = _extra_scores(task)

    def loaded(task, info):  # the header only once the checkpoint has loaded
        if not args.json:
            print(f"{task.name} {run.model_name} ({args.run_dir}), {info.describe()}; "
                  f"{args.batch_size} fresh sequences per size, seed {args.seed}")
            print(_table_header(task, extra))

    callback = None if args.json else (lambda r: print(_table_row(task, r, extra), flush=True))
    records, _, saved = _run_eval(run, args.checkpoint, args.lengths, args.repeats, args.batch_size, args.seed,
                                  loaded, callback)
    if args.json:
        print(json.dumps(records, indent=2))
    if isinstance(saved, Path):
        _info(f"saved {saved}")
    elif run.shipped:
        _info(f"({saved})")
    else:
        _info(f"warning: {saved}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# ntm plot


def _cmd_plot(args: argparse.Namespace) -> int:
    from ntm import runs, viz

    dirs = [runs.resolve(d) for d in args.run_dirs]
    opened = [runs.Run(d) for d in dirs]
    for r in opened:  # fail before drawing anything
        r.config
        r.metrics()
    if args.smooth < 1:
        raise _UsageError(f"--smooth must be >= 1, got {args.smooth}")
    if args.out is not None:
        out = Path(args.out)
    else:
        out = dirs[0] / "learning_curves.png" if len(dirs) == 1 else Path("learning_curves.png")
    labels = viz.run_labels(dirs)

    records: dict[str, list] = {}  # read (or computed) before anything is drawn
    for run, label in zip(opened, labels):
        current = run.evaluation("best") if run.has_checkpoint() else None
        if current is None and args.eval and run.has_checkpoint():
            _info(f"evaluating {run.path} ...")
            recs, _, saved = _run_eval(run, "best", None, None, 64, 0)
            if not isinstance(saved, Path):
                _info(f"warning: {saved}")
            current = (recs, None)
        if current is not None:
            records[label] = current[0]

    written = [viz.plot_learning_curves(dirs, out, labels=labels, smooth=args.smooth, log_y=args.log_y)]
    if records:
        labels_of = {r.task().size_label for r in opened}
        xlabel = "items" if labels_of == {"items"} else "sequence length"
        gen = out.with_name(out.stem + "_generalisation" + out.suffix)
        written.append(viz.plot_generalisation(records, gen, log_y=args.log_y, xlabel=xlabel))
    else:
        _info("no evaluation of the current checkpoint yet: run 'ntm eval DIR' (or 'ntm plot --eval') "
              "for a generalisation curve")
    for path in written:
        print(path)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# ntm show


def _cmd_show(args: argparse.Namespace) -> int:
    import jax

    from ntm import evaluate, runs, viz

    run = runs.Run(args.run_dir)
    task = run.task()
    if run.model_name == "lstm":
        raise _UsageError(f"{args.run_dir} holds the LSTM baseline: it has no memory, so there is no memory access to show")
    if args.repeats is not None and "repeats" not in task.extra_sizes:
        raise _UsageError(f"--repeats applies to repeat_copy only; {args.run_dir} trains {task.name}")
    model, info = run.load_model(args.checkpoint)
    kw = {"repeats": args.repeats} if "repeats" in task.extra_sizes else {}
    seq = evaluate.sample_trace(model, task, args.length, key=jax.random.key(args.seed), **kw)
    sizes = {**task.show_sizes(), **({"length": args.length} if args.length is not None else {}),
             **{k: v for k, v in kw.items() if v is not None}}
    out = Path(args.out) if args.out is not None else run.path / "memory.png"
    title = (
        f"{task.name}, {run.model_name}, {info.describe()}; {task.point_label(sizes)} (seed {args.seed}): "
        f"cost {seq.cost_bits:.3g} bits, {seq.bit_errors:.0f} bit errors"
    )
    viz.plot_memory_access(seq.inputs, seq.targets, seq.outputs, seq.trace, out, title, mask=seq.mask)
    print(out)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# ntm program / ntm view: functions of ntm.program and ntm.viewer, imported only when used.


def _optional(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise _UsageError(f"{module} is not available in this installation ({exc})") from None


def _cmd_program(args: argparse.Namespace) -> int:
    program = _optional("ntm.program")
    print(program.summarize_run(args.run_dir, length=args.length, seed=args.seed, checkpoint=args.checkpoint))
    return EXIT_OK


def _cmd_view(args: argparse.Namespace) -> int:
    from ntm import runs

    viewer = _optional("ntm.viewer")
    out = Path(args.out) if args.out is not None else runs.resolve(args.run_dir) / "viewer.html"
    path = viewer.write_viewer(args.run_dir, out, length=args.length, seed=args.seed, checkpoint=args.checkpoint)
    print(path if path is not None else out)
    return EXIT_OK


def _ray_options(p: argparse.ArgumentParser, unit: str) -> None:
    g = p.add_argument_group("Ray (pip install \"neural-turing-machines[ray]\")")
    g.add_argument("--ray", nargs="?", const=True, default=False, metavar="ADDRESS",
                   help=f"run each {unit} as a Ray task: on a local Ray instance, or on the cluster at "
                        "ADDRESS (host:port, or ray://host:10001); run directories must be on storage every "
                        "node reaches")
    g.add_argument("--cpus", type=int, default=1, metavar="N", help=f"CPUs per {unit} on Ray (default: 1)")
    g.add_argument("--gpus", type=float, default=0.0, metavar="G",
                   help=f"GPUs per {unit} on Ray; a fraction shares a GPU (default: 0)")


def _values(text: str) -> list:
    from ntm import sweep

    try:
        return sweep.parse_values(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _swept(text: str) -> tuple[str, list]:
    name, eq, values = text.partition("=")
    if not eq or not name.strip():
        raise argparse.ArgumentTypeError(f"expected FIELD=V,V,..., got {text!r}")
    return name.strip(), _values(values)


def _check_ray_args(args: argparse.Namespace) -> None:
    if args.cpus < 1:
        raise _UsageError(f"--cpus must be a positive integer, got {args.cpus}")
    if args.gpus < 0:
        raise _UsageError(f"--gpus must be >= 0, got {args.gpus}")
    if args.ray is not False:
        try:
            import ray  # noqa: F401
        except ImportError:
            raise _UsageError('--ray needs Ray: pip install "neural-turing-machines[ray]"') from None


def _cmd_sweep(args: argparse.Namespace) -> int:
    from ntm import grid, sweep, tasks

    _check_ray_args(args)
    values: dict[str, list] = {}
    for name, vals in [("learning_rate", args.lr), ("batch_size", args.batch_size), ("model", args.model),
                       ("optimizer", args.optimizer), *(args.set or [])]:
        if vals is None:
            continue
        if name in values:
            raise _UsageError(f"{name} is swept twice")
        values[name] = vals
    if not values:
        raise _UsageError("nothing to sweep: give --lr, --batch-size, --model, --optimizer or --set FIELD=V,V")
    for name in ("sequences", "eval_every"):
        if getattr(args, name) < 1:
            raise _UsageError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(args, name)}")
    task = tasks.resolve(args.task)
    out = args.out or f"sweeps/{task.name}"
    base = {"sequences": args.sequences, "target_cost": args.target_cost, "eval_every": args.eval_every,
            "time_budget": args.time_budget}
    try:
        records = sweep.sweep(out, args.task, values, args.seeds, ray=args.ray, cpus=args.cpus, gpus=args.gpus,
                              progress=not args.quiet, **base)
    except KeyboardInterrupt:
        _err("interrupted; every run was checkpointed: run the same command again to continue")
        return EXIT_INTERRUPTED
    except grid.GridError as exc:
        _err(str(exc))
        return EXIT_USAGE
    print(sweep.summary_table(records))
    print(f"table: {Path(out) / 'sweep.md'}; plot: {Path(out) / 'sweep.png'}")
    return EXIT_OK


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from ntm import grid, reproduce

    if args.report is not None:  # write the report of what the grid holds; train nothing
        from ntm import report

        try:
            path = report.write_report(args.out, args.report, args.figures)
        except ValueError as exc:
            _err(str(exc))
            return EXIT_USAGE
        print(f"wrote {path} (figures in {args.figures or Path(args.report).parent / 'docs' / 'reproduction'})")
        return EXIT_OK
    _check_ray_args(args)
    if args.sequences is not None and args.sequences < 1:
        _err(f"--sequences must be a positive integer, got {args.sequences}")
        return EXIT_USAGE
    try:
        records = reproduce.reproduce(
            args.out, tasks=args.tasks.split(",") if args.tasks else None,
            models=args.models.split(",") if args.models else None,
            seeds=[int(s) for s in args.seeds.split(",")], time_budget=args.budget, sequences=args.sequences,
            progress=not args.quiet, ray=args.ray, cpus=args.cpus, gpus=args.gpus, ensembles=args.ensembles,
        )
    except grid.GridError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err("interrupted; the cell in progress was checkpointed: run the same command again to resume")
        return EXIT_INTERRUPTED
    print(reproduce.summary_table(records))
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from ntm import pretrained

    out = Path(args.out) if args.out else Path(f"demo-{args.task}.png")
    print(pretrained.demo(args.task, out, length=args.length, seed=args.seed))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------


def _sequence_options(p: argparse.ArgumentParser, length_help: str = _LENGTH_HELP) -> None:
    """``--length`` and ``--seed``: which fresh sequence show, program, view and demo run."""
    p.add_argument("--length", type=int, metavar="L", help=length_help)
    p.add_argument("--seed", type=int, default=0, help="seed of the sequence")


_DIR_HELP = "run directory (or shipped:TASK for a model shipped with the package, e.g. shipped:copy)"


def _checkpoint_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", choices=("best", "last"), default="best",
                   help="best: the parameters of the lowest evaluation cost during training (dynamic "
                        "n-grams: of the lowest cost above the Bayes optimum of the evaluation's own "
                        "sequences; the last checkpoint where there is none yet); last: the final state")


def _parser() -> argparse.ArgumentParser:
    from ntm import paper, tasks

    task_names = ", ".join(tasks.names())
    parser = _Parser(
        prog="ntm",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Neural Turing Machines (Graves et al., 2014): train, evaluate and look inside.",
        epilog=(
            "examples:\n"
            "  ntm train copy                          # train until solved (< 0.05 bits/sequence)\n"
            "  ntm eval runs/copy-ntm-ff-seed0         # generalisation to longer sequences\n"
            "  ntm plot runs/copy-ntm-ff-seed0         # learning curve (+ generalisation curve)\n"
            "  ntm show runs/copy-ntm-ff-seed0         # what the heads did, as in the paper\n"
            "  ntm train --resume runs/copy-ntm-ff-seed0 --sequences 50000\n\n"
            f"tasks: {task_names}, or a task of your own as module:Class\nmodels: {', '.join(paper.MODELS)}\n"
            "Run 'ntm COMMAND --help' for a command's options."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    # train -----------------------------------------------------------------------------------
    p = sub.add_parser(
        "train", help="train a model on a task (or continue a run)", formatter_class=_Formatter,
        description=(
            "Train a model on a task, writing a run directory: config.json, metrics.csv, TensorBoard events,\n"
            "checkpoint.safetensors (the last state, saved at every evaluation) and best.safetensors (the\n"
            "parameters of the lowest evaluation cost; on dynamic n-grams, of the lowest cost above the Bayes\n"
            "optimum of the evaluation's own sequences).  Training stops by itself once the evaluation cost\n"
            "falls below --target-cost.  The progress bar shows the cost in bits per sequence, bit errors per\n"
            "sequence, the last evaluation cost (n-grams: and its excess over the optimum, above_ref) and\n"
            "sequences per second.\n"
            "Sizes not given come from the paper's table for the task.  The default preset uses the recipe\n"
            "measured to solve the task fastest where one was measured (copy: the paper's centred RMSProp at\n"
            "batch 1, lr 3e-4 for ntm-ff and 1e-3 for ntm-lstm, medians of 1,536 and 3,328 sequences over five\n"
            "seeds; docs/recipes.md), and Adam at lr 3e-3 and batch 8 otherwise; --preset paper trains as the\n"
            "paper did (lr from its table, batch 1).\n"
            "TASK is one of the paper's tasks, a task of your own as an import path (mypackage.tasks:Reverse,\n"
            "a subclass of ntm.tasks.Task), or a name an installed package declares in the entry-point group\n"
            "'ntm.tasks'.  Without --out the run goes to runs/TASK-MODEL[-paper]-seedS; the same command\n"
            "again continues that run (to a new --sequences, say), and other settings get a new directory."
        ),
        epilog=(
            "examples:\n"
            "  ntm train copy\n"
            "  ntm train repeat-copy --model ntm-lstm --seed 1\n"
            "  ntm train copy --preset paper\n"
            "  ntm train mypackage.tasks:Reverse --sequences 20000\n"
            "  ntm train copy --memory-rows 32 --controller-size 50 --lr 1e-3 --target-cost none --sequences 20000\n"
            "  ntm train repeat_copy --stage 30000:train_repeats=1-2 --stage 60000:train_repeats=1-4\n"
            "  ntm train --resume runs/copy-ntm-ff-seed0 --sequences 100000\n\n"
            f"tasks: {task_names}"
        ),
    )
    p.add_argument("task", nargs="?", metavar="TASK", help=f"one of: {task_names}; or module:Class")
    p.add_argument("--model", choices=paper.MODELS,
                   help="ntm-ff: NTM, feedforward controller; ntm-lstm: NTM, LSTM controller; lstm: baseline "
                        "(default: ntm-ff)")
    p.add_argument("--preset", choices=("default", "paper"),
                   help="default: the recipe measured fastest for the task and model (see above); paper: "
                        "centred RMSProp, the paper's lr, batch 1 (default: default)")
    p.add_argument("--sequences", type=int, metavar="N",
                   help="training budget in sequences (a total, also with --resume) (default: 200000)")
    p.add_argument("--batch-size", type=int, metavar="B", help="sequences per update (default: from the preset)")
    p.add_argument("--seed", type=int, metavar="S", help="fixes parameters and data (default: 0)")
    p.add_argument("--seeds", type=_seeds, metavar="S-S|S,S,...",
                   help="train an ensemble, one member per seed (e.g. 0-7 or 0,3,5), in one compiled program; "
                        "each member gets the run directory --seed S would, under runs/ or --out ROOT")
    p.add_argument("--out", metavar="DIR", help="run directory (default: runs/TASK-MODEL-seedS)")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its checkpoint")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (its checkpoint, log and events) instead of refusing")
    g = p.add_argument_group("optimiser")
    g.add_argument("--lr", type=float, help="learning rate (default: from the preset)")
    g.add_argument("--optimizer", choices=("adam", "rmsprop"), help="(default: from the preset)")
    g.add_argument("--lr-from", type=_lr_step, action="append", metavar="SEQUENCES:LR",
                   help="from SEQUENCES sequences on, use learning rate LR; repeat for later changes, in order "
                        "(e.g. --lr-from 150000:1e-4)")
    g.add_argument("--grad-clip", type=float, metavar="C",
                   help="the clipping bound C (default: 10, as in the paper)")
    g.add_argument("--clip", choices=("value", "norm"),
                   help="value: clip every gradient component to [-C, C] (the paper); norm: scale the "
                        "gradient down to a global norm of at most C (default: value)")
    g = p.add_argument_group("model (default: the paper's sizes for the task)")
    g.add_argument("--heads", type=int, metavar="H", help="read heads = write heads = H (NTM only)")
    g.add_argument("--controller-size", type=int, metavar="C",
                   help="units per controller layer (for lstm: units per LSTM layer)")
    g.add_argument("--memory-rows", type=int, metavar="N", help="memory locations N (paper: 128)")
    g.add_argument("--memory-width", type=int, metavar="M", help="row width M (paper: 20)")
    g.add_argument("--memory-init", choices=("learned", "constant", "random"),
                   help="initial memory: a trained bias, a small constant, or a fixed random draw "
                        "(default: constant)")
    g.add_argument("--memory-init-std", type=float, metavar="S",
                   help="start a learned (or random) memory from a normal draw of standard deviation S "
                        "(e.g. --memory-init learned --memory-init-std 0.05)")
    g.add_argument("--weighting-init", choices=("focused", "random"),
                   help="the heads' learned initial weightings: on row 0, or spread by logits drawn from "
                        "N(0, 1) (default: focused)")
    g = p.add_argument_group("curriculum")
    g.add_argument("--stage", type=_stage, action="append", metavar="SEQUENCES:FIELD=VALUE[,...]",
                   help="train on an easier task until SEQUENCES sequences have been seen: the task with these "
                        "fields set (LO-HI for a range); repeat for later stages, in order. Evaluation always "
                        "uses the task itself. e.g. --stage 30000:train_repeats=1-2 --stage 60000:train_repeats=1-4")
    g = p.add_argument_group("stopping")
    g.add_argument("--target-cost", type=_target_cost, metavar="BITS", default=_UNSET,
                   help="stop once the evaluation cost is below BITS per sequence; 'none' never stops early "
                        "(default: 0.05)")
    g.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help="stop after this much training time (with --resume: in total, counting the time "
                        "already spent)")
    g.add_argument("--max-skipped", type=int, metavar="K",
                   help="stop after K consecutive updates with a non-finite loss or gradient (each is "
                        "skipped, leaving the parameters unchanged) (default: 100)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)

    # eval ------------------------------------------------------------------------------------
    p = sub.add_parser(
        "eval", help="evaluate a run at several sequence lengths", formatter_class=_Formatter,
        description=(
            "Evaluate a run's best checkpoint (--checkpoint last: its final state) on fresh sequences of\n"
            "each size: cost in bits per sequence (mean), bit errors per sequence (mean) and bit-error rate\n"
            "(wrong bits / scored bits).  Prints a table (or JSON) and stores the records in DIR/eval.json\n"
            "with the checkpoint they scored, for 'ntm plot'.\n"
            "Default sizes: copy 10,20,30,50,120; repeat_copy lengths 10,20 x repeats 10,20 plus the\n"
            "training ranges; associative_recall 2-20 items (step 2); dynamic_ngrams 200; priority_sort 20."
        ),
        epilog=(
            "examples:\n"
            "  ntm eval runs/copy-ntm-ff-seed0\n"
            "  ntm eval runs/copy-ntm-ff-seed0 --lengths 20,40,80 --json\n"
            "  ntm eval runs/repeat_copy-ntm-ff-seed0 --lengths 10,1-10 --repeats 5,20\n"
            "  ntm eval shipped:copy\n\n"
            "A size 'lo-hi' draws each sequence's size uniformly from that range."
        ),
    )
    p.add_argument("run_dir", metavar="DIR", help=_DIR_HELP)
    _checkpoint_option(p)
    p.add_argument("--lengths", type=_sizes, metavar="L,L,...",
                   help="sizes: sequence lengths (items for associative_recall) (default: per task, see above)")
    p.add_argument("--repeats", type=_sizes, metavar="R,R,...", help="repeat counts (repeat_copy only)")
    p.add_argument("--batch-size", type=int, default=64, metavar="B", help="sequences per size")
    p.add_argument("--seed", type=int, default=0, help="seed of the evaluation data")
    p.add_argument("--json", action="store_true", help="print the records as JSON instead of a table")
    p.set_defaults(func=_cmd_eval)

    # plot ------------------------------------------------------------------------------------
    p = sub.add_parser(
        "plot", help="learning curves (and generalisation curves) of runs", formatter_class=_Formatter,
        description=(
            "Draw learning curves (cost per sequence in bits against sequences seen) of one or more\n"
            "runs on one axis, labelled by the settings that differ between them, and, for runs that\n"
            "have been evaluated ('ntm eval'), the generalisation curve (cost against length) beside it\n"
            "as FILE_generalisation.png."
        ),
        epilog=(
            "examples:\n"
            "  ntm plot runs/copy-ntm-ff-seed0\n"
            "  ntm plot runs/copy-* --out copy.png --log-y\n"
            "  ntm plot runs/copy-ntm-ff-seed0 runs/copy-lstm-seed0 --eval"
        ),
    )
    p.add_argument("run_dirs", nargs="+", metavar="DIR", help="run directories")
    p.add_argument("--out", metavar="FILE.png",
                   help="learning-curve PNG (default: DIR/learning_curves.png for one run, "
                        "./learning_curves.png for several)")
    p.add_argument("--log-y", action="store_true", help="logarithmic cost axis")
    p.add_argument("--smooth", type=int, default=5, metavar="K", help="moving average over K log rows")
    p.add_argument("--eval", action="store_true",
                   help="evaluate runs that have no eval.json yet (default sizes), for the generalisation curve")
    p.set_defaults(func=_cmd_plot)

    # show ------------------------------------------------------------------------------------
    p = sub.add_parser(
        "show", help="picture the memory access of one sequence", formatter_class=_Formatter,
        description=(
            "Run one fresh sequence through a trained NTM and draw, against time, as the paper does:\n"
            "inputs, targets and outputs, the add vectors and read vectors, and the write and read\n"
            "weightings over memory locations (one panel per head).  The LSTM baseline has no memory."
        ),
        epilog=(
            "examples:\n"
            "  ntm show runs/copy-ntm-ff-seed0\n"
            "  ntm show runs/copy-ntm-ff-seed0 --length 50 --out copy-50.png"
        ),
    )
    p.add_argument("run_dir", metavar="DIR", help=_DIR_HELP)
    _checkpoint_option(p)
    _sequence_options(p)
    p.add_argument("--repeats", type=int, metavar="R",
                   help="repeat count, repeat_copy only (default: top of the training range)")
    p.add_argument("--out", metavar="FILE.png", help="where to write the picture (default: DIR/memory.png)")
    p.set_defaults(func=_cmd_show)

    # program / view --------------------------------------------------------------------------
    p = sub.add_parser(
        "program", help="describe, in words, the program the heads run", formatter_class=_Formatter,
        description=(
            "Run one fresh sequence through a trained NTM and print, for each head, what it does step by\n"
            "step: which rows it focuses on and how it moves (by content, or by location with a shift),\n"
            "where its focus is blurred, and which steps are scored; the program the machine learned."
        ),
        epilog="examples:\n  ntm program runs/copy-ntm-ff-seed0 --length 30\n  ntm program shipped:copy",
    )
    p.add_argument("run_dir", metavar="DIR", help=_DIR_HELP)
    _checkpoint_option(p)
    _sequence_options(p)
    p.set_defaults(func=_cmd_program)

    p = sub.add_parser(
        "view", help="write an interactive HTML viewer of one sequence", formatter_class=_Formatter,
        description=(
            "Write a self-contained HTML page (it works offline, in any browser) that steps through one\n"
            "fresh sequence: a time slider, play/pause, the memory at each step, every head's weighting,\n"
            "gate, shift and sharpening, and the program the heads run.  Prints the file's path."
        ),
        epilog="examples:\n  ntm view runs/copy-ntm-ff-seed0 --out viewer.html\n  ntm view shipped:copy --out copy.html",
    )
    p.add_argument("run_dir", metavar="DIR", help=_DIR_HELP)
    p.add_argument("--out", metavar="FILE.html", help="(default: DIR/viewer.html)")
    _checkpoint_option(p)
    _sequence_options(p)
    p.set_defaults(func=_cmd_view)

    # reproduce / demo ------------------------------------------------------------------------
    p = sub.add_parser(
        "reproduce", help="run the paper's grid of tasks x models x seeds (resumable)", formatter_class=_Formatter,
        description=(
            "Train every (task, model, seed) cell into OUT/TASK-MODEL-seedS with a wall-time budget per cell,\n"
            "evaluate generalisation, and print the results table.  Run it again to resume: finished\n"
            "cells are skipped and interrupted ones continue from their last checkpoint; a cell that\n"
            "stopped on its time or sequence budget continues when --budget and --sequences allow more."
        ),
        epilog=(
            "examples:\n  ntm reproduce --tasks copy,associative_recall --models ntm-ff,lstm --budget 300\n"
            "  ntm reproduce --out experiments/reproduction --report REPRODUCTION.md"
        ),
    )
    p.add_argument("--tasks", help=f"comma-separated tasks (default: all: {task_names})")
    p.add_argument("--models", help="comma-separated models (default: ntm-ff,ntm-lstm,lstm)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds")
    p.add_argument("--budget", type=float, default=600.0, metavar="SECONDS", help="training time per cell")
    p.add_argument(
        "--sequences", type=int, metavar="N",
        help="training sequences per cell (default: per task and model, ntm.paper.REPRODUCTION: 100,000 for copy and for "
             "every LSTM baseline, 1,000,000 for priority sort, 200,000 for the others)",
    )
    p.add_argument("--out", default="repro", metavar="DIR", help="grid directory")
    p.add_argument("--ensembles", action="store_true",
                   help="train the seeds of each task and model together, as one ensemble (one compiled "
                        "program, each seed's cell the run it would be alone up to float rounding): several "
                        "times the sequences per second for batch-1 recipes; --budget is then the ensemble's. The LSTM "
                        "baseline's seeds still train one at a time (faster for its large products), and a cell "
                        "already begun resumes the way it began")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--report", metavar="FILE",
                   help="train nothing: write the report of the grid in --out to FILE (e.g. REPRODUCTION.md): "
                        "per task the learning curves (median and range over seeds, every model on one axis), "
                        "generalisation, memory use, and the table of ours against the paper's")
    p.add_argument("--figures", metavar="DIR", help="where --report puts its figures (default: docs/reproduction "
                                                    "beside FILE)")
    _ray_options(p, "cell (with --ensembles: each task and model)")
    p.set_defaults(func=_cmd_reproduce)

    # sweep -----------------------------------------------------------------------------------
    p = sub.add_parser(
        "sweep", help="train a task at every combination of some settings, over seeds (resumable)",
        formatter_class=_Formatter,
        description=(
            "Train TASK at every combination of the values given (each combination a setting), one run per\n"
            "seed, the seeds of a setting as one ensemble, into OUT/SETTING-seedS; then write OUT/sweep.md\n"
            "(per setting: seeds solved, sequences to the target, evaluation costs) and OUT/sweep.png, and\n"
            "print the table.  Run it again to continue: finished runs are kept, the others resume.\n"
            "Settings not swept are the default preset's for the task and model (as ntm train)."
        ),
        epilog=(
            "examples:\n"
            "  ntm sweep copy --lr 1e-4,3e-4,1e-3 --seeds 0-4 --sequences 20000\n"
            "  ntm sweep copy --model ntm-ff,ntm-lstm --batch-size 1,8 --seeds 0-2\n"
            "  ntm sweep associative_recall --set model.controller_size=50,100 --set clip=value,norm\n"
            "  ntm sweep copy --lr 1e-4,3e-4 --ray                  # a local Ray instance\n"
            "  ntm sweep copy --lr 1e-4,3e-4 --ray HEAD:6379 --out /shared/sweeps/copy-lr"
        ),
    )
    p.add_argument("task", metavar="TASK", help=f"one of: {task_names}; or module:Class")
    p.add_argument("--lr", type=_values, metavar="LR,LR,...", help="learning rates")
    p.add_argument("--batch-size", type=_values, metavar="B,B,...", help="batch sizes")
    p.add_argument("--model", type=_values, metavar="M,M,...", help=f"models, of: {', '.join(paper.MODELS)}")
    p.add_argument("--optimizer", type=_values, metavar="O,O,...", help="optimisers, of: adam, rmsprop")
    p.add_argument("--set", type=_swept, action="append", metavar="FIELD=V,V,...",
                   help="sweep any TrainConfig field (clip, grad_clip, preset, ...), a model field as "
                        "model.FIELD (model.controller_size, model.memory_rows, ...) or a task field as "
                        "task.FIELD; repeat for more")
    p.add_argument("--seeds", type=_seeds, default=[0, 1, 2], metavar="S-S|S,S,...", help="(default: 0-2)")
    p.add_argument("--sequences", type=int, default=20_000, metavar="N", help="budget per run (default: 20000)")
    p.add_argument("--target-cost", type=_target_cost, metavar="BITS", default=0.05,
                   help="a run stops once its evaluation cost is below BITS per sequence; 'none' never "
                        "(default: 0.05)")
    p.add_argument("--eval-every", type=int, default=1_000, metavar="N", help="sequences between evaluations (default: 1000)")
    p.add_argument("--time-budget", type=float, metavar="SECONDS", help="training time per run")
    p.add_argument("--out", metavar="DIR", help="sweep directory (default: sweeps/TASK)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    _ray_options(p, "setting (its ensemble of seeds)")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser(
        "demo", help="run a shipped trained model on a fresh example (no training)", formatter_class=_Formatter,
        description="Load the trained model shipped with the package, run one fresh sequence, print inputs,\n"
                    "targets and outputs, and write the memory-access picture.",
        epilog="example:\n  ntm demo copy --length 30",
    )
    p.add_argument("task", nargs="?", default="copy", help="task with a shipped model (default: copy)")
    _sequence_options(p)
    p.add_argument("--out", metavar="FILE.png", help="(default: ./demo-TASK.png)")
    p.set_defaults(func=_cmd_demo)
    return parser


def compilation_cache_dir() -> Path | None:
    """Where the ``ntm`` command keeps compiled XLA programs between runs, or None when disabled.

    ``NTM_COMPILATION_CACHE``: a directory, or ``0`` to disable; default
    ``$XDG_CACHE_HOME/ntm/xla`` (``~/.cache/ntm/xla``).  A second ``ntm train`` with the same
    settings then skips compilation (most of the time to its first update).
    """
    setting = os.environ.get("NTM_COMPILATION_CACHE", "")
    if setting.strip().lower() in ("0", "off", "false", "no"):
        return None
    if setting:
        return Path(setting).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ntm" / "xla"


def _enable_compilation_cache() -> None:
    import jax

    folder = compilation_cache_dir()
    if folder is None or jax.config.jax_compilation_cache_dir:  # disabled, or set by the user
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # an unwritable cache is not worth failing a command for
        return
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def _stop_on_sigterm():
    """Make SIGTERM (``kill PID``) act like Ctrl-C: training checkpoints and stops cleanly.

    This matters for background runs (``nohup ntm train ... &``), where the shell ignores SIGINT.
    Returns the previous handler, or None where handlers cannot be set (not the main thread).
    """

    def stop(signum, frame):
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, stop)
    except ValueError:  # signal only works in the main thread
        return None


class _Plan(NamedTuple):
    """What a command trains: the models, and the batch size (None where it is not known)."""

    models: frozenset[str]
    batch_size: int | None


def _training_plan(args: argparse.Namespace) -> _Plan | None:
    """What the command will train, read before JAX starts (a resumed run's config is read once);
    None for a command that trains nothing, or a resume whose config cannot be read (the command
    itself reports that)."""
    from ntm import paper, runs, tasks

    recipe_batch = paper.DEFAULT_RECIPE["batch_size"]
    if args.command in ("reproduce", "sweep") and args.ray is not False:
        return None  # the Ray workers train; each sets up JAX for itself (ntm.grid)
    if args.command == "reproduce" and args.report is not None:
        return None  # the report trains nothing
    if args.command == "sweep":  # a setting trains its seeds as an ensemble (split over the devices)
        swept = dict(args.set or [])
        models = args.model or swept.get("model") or ["ntm-ff"]
        batches = args.batch_size or swept.get("batch_size") or [None]
        batch = len(args.seeds) if len(args.seeds) > 1 else batches[0]
        return _Plan(frozenset(str(m) for m in models), batch)
    if args.command == "reproduce":
        models = paper.MODELS if args.models is None else [m.strip() for m in args.models.split(",")]
        if args.ensembles:  # an ensemble splits its members over the devices
            return _Plan(frozenset(models), len(args.seeds.split(",")))
        names = tasks.names() if args.tasks is None else [t.strip() for t in args.tasks.split(",")]
        batches = {paper.reproduction_recipe(t, m).get("batch_size", paper.default_recipe(t, m)["batch_size"])
                   for t in names for m in models}
        # the cells' batch where they share one (copy trains at batch 1), else the default recipe's
        return _Plan(frozenset(models), batches.pop() if len(batches) == 1 else recipe_batch)
    if args.command != "train":
        return None
    if args.resume is not None:
        try:
            run = runs.Run(args.resume)
            return _Plan(frozenset([run.model_name]), run.config["fit"].get("batch_size"))
        except (runs.RunError, KeyError):
            return None
    if args.seeds is not None:  # an ensemble splits its members over the devices, not its batches
        return _Plan(frozenset([args.model or "ntm-ff"]), len(args.seeds))
    model = args.model or "ntm-ff"
    if args.batch_size is not None:
        batch = args.batch_size
    elif args.preset == "paper":
        batch = 1
    else:
        try:  # (finding a registered task computes nothing; an import path is imported here)
            name = tasks.resolve(args.task).name if args.task else None
        except ValueError:
            name = None  # the command reports it
        batch = paper.default_recipe(name, model)["batch_size"] if name else recipe_batch
    return _Plan(frozenset([model]), batch)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ntm`` command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit status.

    0: done; 1: training stopped on non-finite losses; 2: a usage, input or run-directory error
    (one line on stderr, nothing written); 130: interrupted.
    """
    parser = _parser()
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except _UsageError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    if args.command is None:
        parser.print_usage(sys.stderr)
        _err("choose a command: train, eval, plot, show, program, view, reproduce, sweep or demo (see 'ntm --help')")
        return EXIT_USAGE

    if os.environ.get("NTM_CPU_THREADS", "1") == "1":
        from ntm import fast

        plan = _training_plan(args)
        fast.configure_for_training(None if plan is None else plan.models, None if plan is None else plan.batch_size)
    from ntm.runs import RunError

    _enable_compilation_cache()
    previous = _stop_on_sigterm()
    try:
        return args.func(args)
    except _UsageError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except (RunError, ValueError) as exc:  # RunError is a ValueError; both name the problem
        _err(str(exc))
        return EXIT_USAGE
    except BrokenPipeError:  # output piped into a command that stopped reading (| head)
        return EXIT_OK
    except OSError as exc:
        _err(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
