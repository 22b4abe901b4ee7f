"""Where a trained repeat-copy NTM's heads go on long tests: does the write head wrap around memory
and overwrite the input it still has to repeat?

    python scripts/repeat_copy_heads.py RUN_DIR [--sequences 32] [--json OUT.json]

For each test size (length L x repeats R) it prints, over ``--sequences`` fresh sequences:

* bit errors: wrong bits / scored bits;
* good repeats: how many repeats come out before the first one with a wrong bit (median);
* data rows: the rows the write head wrote the L input vectors to (its strongest row per input step);
* write rows: how many distinct rows the write head focuses on (weight > 0.5) during the output
  phase (median); a head that marches on one row per step visits one row per output step and,
  after 128, wraps around onto the data;
* overwrites: the share of sequences in which, during the output phase, the write head focuses
  on a data row (weight > 0.5) while erasing (mean erase > 0.1) before the last read of that row.
"""

from __future__ import annotations

import argparse
import json

import jax
import numpy as np

from ntm import evaluate
from ntm.runs import Run

SIZES = [(10, 10), (10, 20), (20, 10), (20, 20)]


def analyse(model, task, length: int, repeats: int, sequences: int, seed: int = 0) -> dict:
    batch = task.sample(jax.random.key(seed), sequences, length, repeats=repeats)
    logits, trace = evaluate._traced(model, batch.inputs)
    write_w = np.asarray(trace.write_w)[:, :, 0]  # [T, B, N] (first write head)
    erase = np.asarray(trace.erase)[:, :, 0].mean(-1)  # [T, B]
    L, R = length, repeats
    out_steps = np.arange(L + 1, L + 1 + L * R)  # steps that emit a vector
    wrong = ((np.asarray(logits) > 0) != (np.asarray(batch.targets) > 0.5)) * np.asarray(batch.mask)[..., None]
    good, rows_visited, overwrites = [], [], []
    for b in range(sequences):
        per_repeat = wrong[b, out_steps, :].sum(-1).reshape(R, L).sum(-1)  # [R]
        good.append(int(np.argmax(per_repeat > 0)) if (per_repeat > 0).any() else R)
        data_rows = write_w[:L, b].argmax(-1)
        focused = write_w[out_steps, b].max(-1) > 0.5
        rows = write_w[out_steps, b].argmax(-1)
        rows_visited.append(len(np.unique(rows[focused])))
        # The last output step still to read each data row is the last repeat's copy of it.
        last_read = L + 1 + (R - 1) * L + np.arange(L)
        hit = False
        for t, row, f in zip(out_steps, rows, focused):
            if f and erase[t, b] > 0.1 and row in data_rows:
                hit |= bool(t < last_read[np.flatnonzero(data_rows == row)].max())
        overwrites.append(hit)
    scored = float(np.asarray(batch.mask).sum()) * wrong.shape[-1]
    return {
        "length": L, "repeats": R,
        "bit_error_rate": float(wrong.sum() / scored),
        "good_repeats": float(np.median(good)),
        "write_rows_visited": float(np.median(rows_visited)),
        "overwrites": float(np.mean(overwrites)),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("--sequences", type=int, default=32)
    p.add_argument("--json", metavar="OUT.json")
    args = p.parse_args()
    run = Run(args.run_dir)
    model, info = run.load_model("best")
    task = run.task()
    print(f"{args.run_dir}: {run.model_name}, {info.describe()}")
    print(f"{'L x R':>8} {'bit errors':>10} {'good repeats':>13} {'write rows':>11} {'overwrites':>11}")
    records = []
    for length, repeats in SIZES:
        r = analyse(model, task, length, repeats, args.sequences)
        records.append(r)
        print(f"{length:>3} x {repeats:<3} {100 * r['bit_error_rate']:>9.2f}% {r['good_repeats']:>13.0f} "
              f"{r['write_rows_visited']:>11.0f} {100 * r['overwrites']:>10.0f}%")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=2)


if __name__ == "__main__":
    main()
