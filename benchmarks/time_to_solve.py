"""Time to solve: wall time and sequences for ``ntm train copy`` (defaults) to reach the target.

Runs the real command line in a subprocess per seed (so start-up and compile are counted), reads
the run's metrics.csv, and reports the median over seeds.  It also reports when the first
training call finished (the first row of metrics.csv: 32 updates of batch 8), counted from the
command's start: the wait a user sees before training is under way.  Each seed starts with an empty
compilation cache (a user's first run) unless ``--warm-cache`` lets later seeds reuse the first
seed's compiled programs (a user's later runs).

    python benchmarks/time_to_solve.py                   # 3 seeds, defaults
    python benchmarks/time_to_solve.py --seeds 0,1,2 -- --batch-size 16 --lr 1e-3

Arguments after ``--`` are passed to ``ntm train copy``.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--task", default="copy")
    p.add_argument("--keep", help="keep the run directories under this folder")
    p.add_argument("--warm-cache", action="store_true",
                   help="share one compilation cache between the seeds (default: a fresh one per seed)")
    args = p.parse_args(argv)
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ntm-tts-"))
    root.mkdir(parents=True, exist_ok=True)
    results = []
    for seed in map(int, args.seeds.split(",")):
        out = root / f"{args.task}-seed{seed}"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, "-m", "ntm.cli", "train", args.task, "--seed", str(seed), "--out", str(out), *extra]
        cache = root / ("cache" if args.warm_cache else f"cache-seed{seed}")
        env = {**os.environ, "NTM_COMPILATION_CACHE": str(cache)}
        t0 = time.perf_counter()
        first = float("nan")
        with tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True, env=env)
            while proc.poll() is None:
                if math.isnan(first) and _rows(out / "metrics.csv") >= 1:
                    first = time.perf_counter() - t0
                time.sleep(0.02)
            wall = time.perf_counter() - t0
            err.seek(0)
            stderr = err.read()
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        rows = list(csv.DictReader(open(out / "metrics.csv"))) if (out / "metrics.csv").exists() else []
        evals = [r for r in rows if r["eval_cost_bits"] not in ("", None)]
        last = evals[-1] if evals else None
        solved = last is not None and float(last["eval_cost_bits"]) < 0.05
        res = {
            "seed": seed, "solved": solved, "wall_s": wall,
            "train_s": float(rows[-1]["wall_time"]) if rows else float("nan"),
            "sequences": int(rows[-1]["sequences"]) if rows else 0,
            "eval_cost": float(last["eval_cost_bits"]) if last else float("nan"),
            "peak_mib_so_far": peak, "rc": proc.returncode, "first_call_s": first,
        }
        results.append(res)
        print(f"seed {seed}: solved={solved} wall {wall:.1f} s (training {res['train_s']:.1f} s, "
              f"first call done at {first:.1f} s), "
              f"{res['sequences']} sequences, eval cost {res['eval_cost']:.4f} bits, "
              f"peak RSS (max over children so far) {peak:.0f} MiB, exit {proc.returncode}", flush=True)
        if proc.returncode != 0:
            print(stderr[-2000:], file=sys.stderr)
    print(f"median over {len(results)} seeds: wall {statistics.median(r['wall_s'] for r in results):.1f} s, "
          f"first call {statistics.median(r['first_call_s'] for r in results):.1f} s, "
          f"sequences {statistics.median(r['sequences'] for r in results):.0f}, "
          f"solved {sum(r['solved'] for r in results)}/{len(results)}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


def _rows(path: Path) -> int:
    """Data rows in a metrics.csv written so far (0 if there is none yet)."""
    try:
        return max(0, len(path.read_text().splitlines()) - 1)
    except OSError:
        return 0


if __name__ == "__main__":
    main()
