"""The ``ntm`` command: a thin layer that parses arguments and calls library functions.

    ntm train copy                      # train until solved; writes runs/copy-ntm-ff-seed0
    ntm eval runs/copy-ntm-ff-seed0     # cost and bit errors at lengths 10 .. 120
    ntm plot runs/copy-ntm-ff-seed0     # learning curve (+ generalisation curve after eval)
    ntm show runs/copy-ntm-ff-seed0     # memory access of one sequence, as in the paper

Every command is a function of :mod:`ntm.train`, :mod:`ntm.evaluate` or :mod:`ntm.viz` first;
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


# ---------------------------------------------------------------------------------------------
# ntm train


def _model_args(args: argparse.Namespace) -> dict[str, Any]:
    """Model overrides from flags; the LSTM baseline has no memory, and its size is hidden_size."""
    memory_flags = {
        "--heads": args.heads,
        "--memory-rows": args.memory_rows,
        "--memory-width": args.memory_width,
        "--memory-init": args.memory_init,
    }
    if args.model == "lstm":
        given = [flag for flag, value in memory_flags.items() if value is not None]
        if given:
            raise ValueError(f"{', '.join(given)} apply to NTM models only: the lstm baseline has no memory")
        return {} if args.controller_size is None else {"hidden_size": args.controller_size}
    model_args: dict[str, Any] = {}
    if args.heads is not None:  # the paper counts heads as read/write pairs
        model_args.update(read_heads=args.heads, write_heads=args.heads)
    for name in ("controller_size", "memory_rows", "memory_width", "memory_init"):
        if getattr(args, name) is not None:
            model_args[name] = getattr(args, name)
    return model_args


_TRAIN_SETTINGS = (
    "task", "model", "preset", "batch_size", "seed", "out", "lr", "optimizer", "grad_clip", "heads",
    "controller_size", "memory_rows", "memory_width", "memory_init", "target_cost", "time_budget", "max_skipped",
    "overwrite", "stage", "lr_from",
)


_LENGTH_HELP = "sequence length (default: top of the training range)"

# Settings that --resume may change: they decide when a run stops, not what an update computes.
_RESUME_SETTINGS = ("target_cost", "time_budget", "max_skipped")


def _given(value: Any, name: str) -> bool:
    if name == "overwrite":
        return bool(value)
    return value is not _UNSET if name == "target_cost" else value is not None


def _cmd_train(args: argparse.Namespace) -> int:
    from ntm import train as T

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
        cfg = T.read_config(args.resume)
        _info(f"resuming {args.resume}: {cfg.task} {cfg.model}")
        stopping = {n: getattr(args, n) for n in _RESUME_SETTINGS if _given(getattr(args, n), n)}
        result = T.resume(args.resume, sequences=args.sequences, progress=not args.quiet, **stopping)
        return _report_training(result, Path(args.resume))

    if args.task is None:
        raise _UsageError("give a TASK to train (e.g. 'ntm train copy') or --resume DIR")
    model = args.model or "ntm-ff"
    args.model = model
    fields: dict[str, Any] = dict(task=args.task, model=model, model_args=_model_args(args))
    optional = dict(
        preset=args.preset, sequences=args.sequences, batch_size=args.batch_size, seed=args.seed,
        learning_rate=args.lr, optimizer=args.optimizer, grad_clip=args.grad_clip,
        time_budget=args.time_budget, max_skipped=args.max_skipped,
    )
    fields.update({k: v for k, v in optional.items() if v is not None})
    if args.stage:
        fields["curriculum"] = args.stage
    if args.lr_from:
        fields["lr_schedule"] = args.lr_from
    if args.target_cost is not _UNSET:
        fields["target_cost"] = args.target_cost  # a float, or None from "none"
    cfg = T.TrainConfig(**fields).resolved()
    out = Path(args.out) if args.out is not None else Path("runs") / f"{cfg.task}-{cfg.model}-seed{cfg.seed}"
    until = f"< {cfg.target_cost:g} bits/sequence or " if cfg.target_cost is not None else ""
    _info(
        f"training {cfg.task} with {cfg.model} ({cfg.optimizer}, lr {cfg.learning_rate:g}, batch {cfg.batch_size}, "
        f"seed {cfg.seed}) until {until}{cfg.sequences:,} sequences -> {out}"
    )
    result = T.train(cfg, out, progress=not args.quiet, overwrite=args.overwrite)
    return _report_training(result, out)


def _report_training(result, out: Path) -> int:
    cost = "-" if result.eval_cost is None else f"{result.eval_cost:.4g} bits/sequence"
    summary = f"{result.sequences:,} sequences in {result.wall_time:.0f} s; evaluation cost {cost}"
    if result.stop_reason.startswith("stopped"):
        _err(f"training {result.stop_reason}; try a lower --lr. Run directory: {out}")
        return EXIT_FAILED
    if result.stop_reason == "interrupted":
        _info(f"interrupted after {summary}; continue with: ntm train --resume {out}")
        return EXIT_INTERRUPTED
    verdict = {"solved": "solved", "budget": "sequence budget spent", "time budget": "time budget spent"}
    print(f"{verdict.get(result.stop_reason, result.stop_reason)}: {summary}")
    print(f"run directory: {out}   next: ntm eval {out}; ntm plot {out}; ntm show {out}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# ntm eval


def _format_size(size: Any) -> str:
    return f"{size[0]}-{size[1]}" if isinstance(size, (list, tuple)) else str(size)


def _table_header(task: str) -> str:
    size = "items" if task == "associative_recall" else "length"
    cols = [f"{size:>8}"] + ([f"{'repeats':>8}"] if task == "repeat_copy" else [])
    cols += [f"{'cost (bits/seq)':>16}", f"{'bit errors/seq':>15}", f"{'bit-error rate':>15}"]
    if task == "dynamic_ngrams":
        cols.append(f"{'optimal (bits)':>15}")
    return "  ".join(cols)


def _table_row(task: str, r: dict[str, Any]) -> str:
    cols = [f"{_format_size(r['length']):>8}"]
    if "repeats" in r:
        cols.append(f"{_format_size(r['repeats']):>8}")
    cols += [f"{r['cost_bits']:>16.4f}", f"{r['bit_errors']:>15.3f}", f"{r['bit_error_rate']:>15.5f}"]
    if "optimal_cost_bits" in r:
        cols.append(f"{r['optimal_cost_bits']:>15.3f}")
    return "  ".join(cols)


def _run_eval(run_dir: Path, lengths, repeats, batch_size: int, seed: int, callback=None):
    """Load a run, sweep it, and save ``eval.json`` beside it; returns ``(train_config, document)``."""
    import jax

    from ntm import checkpoint, evaluate
    from ntm import train as T

    model, cfg, meta = T.load_run(run_dir)
    records = evaluate.sweep(
        model, cfg.task_obj(), lengths, repeats=repeats, batch_size=batch_size,
        key=jax.random.key(seed), callback=callback,
    )
    doc = {
        "task": cfg.task, "model": cfg.model, "sequences_trained": meta.get("sequences"),
        "batch_size": batch_size, "seed": seed, "records": records,
    }
    checkpoint.atomic_write_text(run_dir / EVAL_FILE, json.dumps(doc, indent=2) + "\n")
    return cfg, doc


def _cmd_eval(args: argparse.Namespace) -> int:
    from ntm import train as T

    run_dir = Path(args.run_dir)
    cfg = T.read_config(run_dir)
    if args.repeats is not None and cfg.task != "repeat_copy":
        raise _UsageError(f"--repeats applies to repeat_copy only; {run_dir} trains {cfg.task}")
    if args.batch_size < 1:
        raise _UsageError(f"--batch-size must be a positive integer, got {args.batch_size}")
    callback = None
    if not args.json:
        print(f"{cfg.task} {cfg.model} ({run_dir}), {args.batch_size} fresh sequences per size, seed {args.seed}")
        print(_table_header(cfg.task))
        callback = lambda r: print(_table_row(cfg.task, r), flush=True)  # noqa: E731 -- rows as they come
    _, doc = _run_eval(run_dir, args.lengths, args.repeats, args.batch_size, args.seed, callback)
    if args.json:
        print(json.dumps(doc["records"], indent=2))
    else:
        _info(f"saved {run_dir / EVAL_FILE}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# ntm plot


def _cmd_plot(args: argparse.Namespace) -> int:
    from ntm import train as T
    from ntm import viz

    dirs = [Path(d) for d in args.run_dirs]
    configs = [T.read_config(d) for d in dirs]  # fail before drawing anything
    for d in dirs:
        T.read_metrics(d)
    if args.smooth < 1:
        raise _UsageError(f"--smooth must be >= 1, got {args.smooth}")
    if args.out is not None:
        out = Path(args.out)
    else:
        out = dirs[0] / "learning_curves.png" if len(dirs) == 1 else Path("learning_curves.png")
    labels = viz.run_labels(dirs)

    records: dict[str, list] = {}  # read (or computed) before anything is drawn
    for d, label in zip(dirs, labels):
        path = d / EVAL_FILE
        if args.eval and not path.exists():
            _info(f"evaluating {d} ...")
            _run_eval(d, None, None, 64, 0)
        if path.exists():
            try:
                records[label] = json.loads(path.read_text())["records"]
            except (ValueError, KeyError, TypeError) as exc:
                raise T.RunError(f"corrupt {path}: {exc}") from None

    written = [viz.plot_learning_curves(dirs, out, labels=labels, smooth=args.smooth, log_y=args.log_y)]
    if records:
        tasks = {c.task for c in configs}
        xlabel = "items" if tasks == {"associative_recall"} else "sequence length"
        gen = out.with_name(out.stem + "_generalisation" + out.suffix)
        written.append(viz.plot_generalisation(records, gen, log_y=args.log_y, xlabel=xlabel))
    else:
        _info("no evaluation yet: run 'ntm eval DIR' (or 'ntm plot --eval') for a generalisation curve")
    for path in written:
        print(path)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# ntm show


def _cmd_show(args: argparse.Namespace) -> int:
    import jax

    from ntm import evaluate, viz
    from ntm import train as T

    run_dir = Path(args.run_dir)
    cfg = T.read_config(run_dir)
    if cfg.model == "lstm":
        raise _UsageError(f"{run_dir} holds the LSTM baseline: it has no memory, so there is no memory access to show")
    if args.repeats is not None and cfg.task != "repeat_copy":
        raise _UsageError(f"--repeats applies to repeat_copy only; {run_dir} trains {cfg.task}")
    task = cfg.task_obj()
    model, cfg, meta = T.load_run(run_dir)
    kw = {"repeats": args.repeats} if cfg.task == "repeat_copy" else {}
    seq = evaluate.sample_trace(model, task, args.length, key=jax.random.key(args.seed), **kw)
    length = args.length if args.length is not None else task.train_lengths[1]
    size = f"length {length}" + (f", repeats {args.repeats or task.train_repeats[1]}" if kw else "")
    out = Path(args.out) if args.out is not None else run_dir / "memory.png"
    title = (
        f"{cfg.task}, {cfg.model} after {int(meta['sequences']):,} sequences; {size} (seed {args.seed}): "
        f"cost {seq.cost_bits:.3g} bits, {seq.bit_errors:.0f} bit errors"
    )
    viz.plot_memory_access(seq.inputs, seq.targets, seq.outputs, seq.trace, out, title)
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
    print(program.summarize_run(args.run_dir, length=args.length, seed=args.seed))
    return EXIT_OK


def _cmd_view(args: argparse.Namespace) -> int:
    viewer = _optional("ntm.viewer")
    out = Path(args.out) if args.out is not None else Path(args.run_dir) / "viewer.html"
    path = viewer.write_viewer(args.run_dir, out, length=args.length, seed=args.seed)
    print(path if path is not None else out)
    return EXIT_OK


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from ntm import reproduce

    if args.sequences is not None and args.sequences < 1:
        _err(f"--sequences must be a positive integer, got {args.sequences}")
        return EXIT_USAGE
    try:
        records = reproduce.reproduce(
            args.out, tasks=args.tasks.split(",") if args.tasks else None,
            models=args.models.split(",") if args.models else None,
            seeds=[int(s) for s in args.seeds.split(",")], time_budget=args.budget, sequences=args.sequences,
            progress=not args.quiet,
        )
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


def _parser() -> argparse.ArgumentParser:
    from ntm import presets, tasks

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
            f"tasks: {task_names}\nmodels: {', '.join(presets.MODELS)}\n"
            "Run 'ntm COMMAND --help' for a command's options."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    # train -----------------------------------------------------------------------------------
    p = sub.add_parser(
        "train", help="train a model on a task (or continue a run)", formatter_class=_Formatter,
        description=(
            "Train a model on one of the paper's tasks, writing a run directory: config.json, metrics.csv,\n"
            "TensorBoard events and checkpoint.safetensors (saved at every evaluation).  Training stops by\n"
            "itself once the evaluation cost falls below --target-cost.  The progress bar shows the cost in\n"
            "bits per sequence, bit errors per sequence, the last evaluation cost and sequences per second.\n"
            "Sizes not given come from the paper's table for the task; the default preset trains faster\n"
            "than the paper (Adam, lr 3e-3, batch 8); --preset paper trains as the paper did."
        ),
        epilog=(
            "examples:\n"
            "  ntm train copy\n"
            "  ntm train repeat-copy --model ntm-lstm --seed 1\n"
            "  ntm train copy --preset paper --out runs/copy-paper\n"
            "  ntm train copy --memory-rows 32 --controller-size 50 --lr 1e-3 --target-cost none --sequences 20000\n"
            "  ntm train repeat_copy --stage 30000:train_repeats=1-2 --stage 60000:train_repeats=1-4\n"
            "  ntm train --resume runs/copy-ntm-ff-seed0 --sequences 100000\n\n"
            f"tasks: {task_names}"
        ),
    )
    p.add_argument("task", nargs="?", metavar="TASK", help=f"one of: {task_names}")
    p.add_argument("--model", choices=presets.MODELS,
                   help="ntm-ff: NTM, feedforward controller; ntm-lstm: NTM, LSTM controller; lstm: baseline "
                        "(default: ntm-ff)")
    p.add_argument("--preset", choices=("default", "paper"),
                   help="default: Adam, batch 8 (fast); paper: centred RMSProp, the paper's lr, batch 1 "
                        "(default: default)")
    p.add_argument("--sequences", type=int, metavar="N",
                   help="training budget in sequences (a total, also with --resume) (default: 200000)")
    p.add_argument("--batch-size", type=int, metavar="B", help="sequences per update (default: from the preset)")
    p.add_argument("--seed", type=int, metavar="S", help="fixes parameters and data (default: 0)")
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
                   help="clip every gradient component to [-C, C] (default: 10, as in the paper)")
    g = p.add_argument_group("model (default: the paper's sizes for the task)")
    g.add_argument("--heads", type=int, metavar="H", help="read heads = write heads = H (NTM only)")
    g.add_argument("--controller-size", type=int, metavar="C",
                   help="units per controller layer (for lstm: units per LSTM layer)")
    g.add_argument("--memory-rows", type=int, metavar="N", help="memory locations N (paper: 128)")
    g.add_argument("--memory-width", type=int, metavar="M", help="row width M (paper: 20)")
    g.add_argument("--memory-init", choices=("learned", "constant", "random"),
                   help="initial memory: a trained bias, a small constant, or a fixed random draw "
                        "(default: constant)")
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
            "Evaluate a run's latest checkpoint on fresh sequences of each size: cost in bits per\n"
            "sequence (mean), bit errors per sequence (mean) and bit-error rate (wrong bits / scored\n"
            "bits).  Prints a table (or JSON) and saves the records to DIR/eval.json for 'ntm plot'.\n"
            "Default sizes: copy 10,20,30,50,120; repeat_copy lengths 10,20 x repeats 10,20 plus the\n"
            "training ranges; associative_recall 2-20 items (step 2); dynamic_ngrams 200; priority_sort 20."
        ),
        epilog=(
            "examples:\n"
            "  ntm eval runs/copy-ntm-ff-seed0\n"
            "  ntm eval runs/copy-ntm-ff-seed0 --lengths 20,40,80 --json\n"
            "  ntm eval runs/repeat_copy-ntm-ff-seed0 --lengths 10,1-10 --repeats 5,20\n\n"
            "A size 'lo-hi' draws each sequence's size uniformly from that range."
        ),
    )
    p.add_argument("run_dir", metavar="DIR", help="run directory")
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
    p.add_argument("run_dir", metavar="DIR", help="run directory of an NTM")
    _sequence_options(p, "sequence length (items for associative_recall) (default: top of the training range)")
    p.add_argument("--repeats", type=int, metavar="R",
                   help="repeat count, repeat_copy only (default: top of the training range)")
    p.add_argument("--out", metavar="FILE.png", help="where to write the picture (default: DIR/memory.png)")
    p.set_defaults(func=_cmd_show)

    # program / view --------------------------------------------------------------------------
    p = sub.add_parser(
        "program", help="describe, in words, the program the heads run", formatter_class=_Formatter,
        description="Print ntm.program.summarize_run(DIR, length=L, seed=S): what each head does, step by step.",
        epilog="example:\n  ntm program runs/copy-ntm-ff-seed0 --length 30",
    )
    p.add_argument("run_dir", metavar="DIR", help="run directory of an NTM")
    _sequence_options(p)
    p.set_defaults(func=_cmd_program)

    p = sub.add_parser(
        "view", help="write an interactive HTML viewer of one sequence", formatter_class=_Formatter,
        description="Write ntm.viewer.write_viewer(DIR, FILE, length=L, seed=S) and print the file's path.",
        epilog="example:\n  ntm view runs/copy-ntm-ff-seed0 --out viewer.html",
    )
    p.add_argument("run_dir", metavar="DIR", help="run directory of an NTM")
    p.add_argument("--out", metavar="FILE.html", help="(default: DIR/viewer.html)")
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
        epilog="example:\n  ntm reproduce --tasks copy,associative_recall --models ntm-ff,lstm --budget 300",
    )
    p.add_argument("--tasks", help=f"comma-separated tasks (default: all: {task_names})")
    p.add_argument("--models", help="comma-separated models (default: ntm-ff,ntm-lstm,lstm)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds")
    p.add_argument("--budget", type=float, default=600.0, metavar="SECONDS", help="training time per cell")
    p.add_argument(
        "--sequences", type=int, metavar="N",
        help="training sequences per cell (default: per task, ntm.reproduce.BUDGETS: 100,000 for copy, 200,000 for the others)",
    )
    p.add_argument("--out", default="repro", metavar="DIR", help="grid directory")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_reproduce)

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
    from ntm import presets
    from ntm import train as T

    if args.command == "reproduce":
        models = presets.MODELS if args.models is None else [m.strip() for m in args.models.split(",")]
        return _Plan(frozenset(models), T._DEFAULT_BATCH)  # every cell trains with the default preset's batch
    if args.command != "train":
        return None
    if args.resume is not None:
        try:
            cfg = T.read_config(args.resume)
        except T.RunError:
            return None
        return _Plan(frozenset([cfg.model]), cfg.batch_size)
    if args.batch_size is not None:
        batch = args.batch_size
    else:
        batch = 1 if args.preset == "paper" else T._DEFAULT_BATCH
    return _Plan(frozenset([args.model or "ntm-ff"]), batch)


def _cpu_devices(plan: _Plan | None) -> int:
    """How many CPU devices to create: as many as the training batch can be split over (one per
    core at most; ntm.train.data_parallel_devices), and one for a command that does not train or a
    batch that does not split (a program on one device of a many-device client runs slower)."""
    from ntm import _xla

    batch = None if plan is None else plan.batch_size
    if not isinstance(batch, int) or batch < 1:
        return 1  # no training, or a bad batch, which the command reports
    return _xla.split_count(batch, _xla.cpu_count())


def _baseline_only(plan: _Plan | None) -> bool:
    """Whether the command trains only the LSTM baseline, whose large matrix products gain from
    JAX's default multi-threaded CPU pool (NTMs run faster with one thread: ntm._xla)."""
    return plan is not None and plan.models == {"lstm"}


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
        _err("choose a command: train, eval, plot, show, program, view, reproduce or demo (see 'ntm --help')")
        return EXIT_USAGE

    if os.environ.get("NTM_CPU_THREADS", "1") == "1":
        plan = _training_plan(args)
        if not _baseline_only(plan):
            from ntm import _xla

            _xla.one_thread_cpu_client(_cpu_devices(plan))
    from ntm.train import RunError

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
