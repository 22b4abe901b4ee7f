"""Training throughput: sequences per second for the paper's tasks and presets, several batch sizes.

Each configuration runs in its own process so that its compile time and peak memory are its own.
One "update" is forward + backward + optimiser step on a freshly sampled batch (lengths 1..20),
with ``steps_per_call`` updates per jitted call as ``ntm train`` does.

    python benchmarks/throughput.py                       # the full table
    python benchmarks/throughput.py --models ntm-ff --batch-sizes 1,32 --repeats 7
    python benchmarks/throughput.py --tasks all --batch-sizes 1,8   # every task x model preset
    python benchmarks/throughput.py --tasks all --recipe            # each at the batch ntm reproduce uses

Prints one row per (model, batch size): median sequences/s over the repeats, the number of devices
the batch was split over, the time from process start to the first finished update (import + trace
+ compile + first call), and peak RSS.  Each configuration runs as ``ntm train`` runs it: one thread
per CPU device, and the batch split over one device per core where it divides evenly
(``--one-device`` keeps it on one; ``--all-threads`` gives JAX's default client instead, on which
the LSTM baseline always runs, as ``ntm train --model lstm`` runs it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

START = time.perf_counter()


def one(task: str, model: str, batch_size: int, repeats: int, seqs_per_call: int, all_threads: bool,
        one_device: bool) -> dict:
    import resource

    import jax

    from ntm import fast, presets
    from ntm import training as T
    from ntm.training.step import make_updates

    if model == "lstm":  # the ntm command trains the LSTM baseline alone on JAX's default client
        all_threads = True
    if not all_threads:  # as the ntm command does: a device per core that the batch can be split over
        cores = 1 if one_device else fast.cpu_count()
        fast.configure_cpu(fast.split_count(batch_size, cores))

    cfg = T.TrainConfig(task=task, model=model, preset="paper", batch_size=batch_size).resolved()
    net = presets.build_model(cfg.model_config(), jax.random.key(cfg.seed))
    steps = max(1, seqs_per_call // batch_size)
    chunk = make_updates(cfg.optimizer_obj(), cfg.task_obj(), batch_size=batch_size, num_steps=steps,
                         key=jax.random.key(0))  # the training loop's call, split as ntm train splits it
    devices = chunk.spec.devices
    params, opt_state = chunk.init(net)
    params, opt_state, stats = chunk(params, opt_state, 0)
    jax.block_until_ready(stats)
    first_update = time.perf_counter() - START
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        params, opt_state, stats = chunk(params, opt_state, (r + 1) * steps)
        jax.block_until_ready(stats)
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "task": task, "model": model, "batch_size": batch_size, "seq_per_s": steps * batch_size / med,
        "step_ms": 1e3 * med / steps, "devices": devices, "first_update_s": first_update, "peak_mib": peak_mib,
        "params": presets.count_parameters(params),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", default="copy", help="comma-separated tasks, or 'all' (default: copy)")
    p.add_argument("--models", default="ntm-ff,ntm-lstm,lstm")
    p.add_argument("--batch-sizes", default="1,8,32,128")
    p.add_argument("--recipe", action="store_true",
                   help="instead of --batch-sizes, each task and model at the batch of its ntm reproduce recipe")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seqs-per-call", type=int, default=256, help="sequences per jitted call (as ntm train)")
    p.add_argument("--json", action="store_true", help="print JSON records instead of a table")
    p.add_argument("--all-threads", action="store_true",
                   help="NTMs on JAX's default CPU client (one device, a thread per core) instead of one thread "
                        "per device (the LSTM baseline always runs there, as the ntm command runs it)")
    p.add_argument("--one-device", action="store_true",
                   help="one CPU device: no splitting of each batch across the cores (the ntm command splits it)")
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        task, model, b = args.one.split(":")
        print(json.dumps(one(task, model, int(b), args.repeats, args.seqs_per_call, args.all_threads, args.one_device)))
        return
    from ntm import tasks

    rows = []
    names = tasks.names() if args.tasks == "all" else args.tasks.split(",")
    if args.recipe:
        from ntm import reproduce

        points = [(t, m, reproduce.cell_config(t, m).resolved().batch_size) for t in names for m in args.models.split(",")]
    else:
        points = [(t, m, b) for t in names for m in args.models.split(",") for b in map(int, args.batch_sizes.split(","))]
    for task, model, b in points:
        out = subprocess.run(
            [sys.executable, __file__, "--one", f"{task}:{model}:{b}", "--repeats", str(args.repeats),
             "--seqs-per-call", str(args.seqs_per_call), *(["--all-threads"] if args.all_threads else []),
             *(["--one-device"] if args.one_device else [])],
            capture_output=True, text=True, env=os.environ,
        )
        if out.returncode != 0:
            print(out.stderr[-2000:], file=sys.stderr)
            continue
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        if not args.json:
            print(f"{row['task']:18s} {row['model']:9s} batch {row['batch_size']:4d}: {row['seq_per_s']:8.0f} seq/s  "
                  f"({row['step_ms']:7.2f} ms/update, {row['devices']} device(s))  first update {row['first_update_s']:5.1f} s  "
                  f"peak {row['peak_mib']:6.0f} MiB", flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
