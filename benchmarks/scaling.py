"""Step time against memory size N and against sequence length (paper NTM-FF copy preset).

    python benchmarks/scaling.py [--batch-size 8]

For N in 128, 512, 2048, 4096 (sequence length 20) and for copy lengths 10, 20, 40, 80 (N=128),
prints the median time of one update (forward + backward + Adam), and the time per element
(per row per step), so linear growth shows up as a flat last column.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax

from ntm import presets
from ntm import training as T
from ntm.training.step import make_updates


def time_update(batch_size: int, rows: int, length: int, repeats: int) -> float:
    cfg = T.TrainConfig(task="copy", model="ntm-ff", batch_size=batch_size, task_args={"train_lengths": (length, length)},
                        model_args={"memory_rows": rows}).resolved()
    steps = max(1, 64 // batch_size)
    chunk = make_updates(cfg.optimizer_obj(), cfg.task_obj(), batch_size=batch_size, num_steps=steps,
                         key=jax.random.key(0), devices=1)
    params, opt_state = chunk.init(presets.build_model(cfg.model_config(), jax.random.key(0)))
    params, opt_state, stats = chunk(params, opt_state, 0)
    jax.block_until_ready(stats)
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        params, opt_state, stats = chunk(params, opt_state, r)
        jax.block_until_ready(stats)
        times.append((time.perf_counter() - t0) / steps)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    print(f"batch {args.batch_size}; memory width 20; copy task")
    print("rows N   length  ms/update  us per (row x step x sequence)")
    for rows in (128, 512, 2048, 4096):
        t = time_update(args.batch_size, rows, 20, args.repeats)
        print(f"{rows:6d} {20:8d} {1e3 * t:10.2f} {1e6 * t / (rows * 41 * args.batch_size):12.4f}", flush=True)
    for length in (10, 20, 40, 80):
        t = time_update(args.batch_size, 128, length, args.repeats)
        print(f"{128:6d} {length:8d} {1e3 * t:10.2f} {1e6 * t / (128 * (2 * length + 1) * args.batch_size):12.4f}", flush=True)


if __name__ == "__main__":
    main()
