"""Where a trained repeat-copy NTM's heads go on long tests: does the write head wrap around memory
and overwrite the input it still has to repeat?

    python scripts/repeat_copy_heads.py RUN_DIR [--sequences 32] [--json OUT.json]

For each test size (length L x repeats R) it prints the cost and bit-error rate, and from the
heads' weightings on ``--sequences`` fresh sequences:

* data rows: the rows the write head wrote the L input vectors to (its strongest row per input step);
* read on target: the share of output steps whose strongest read row is the data row of the vector
  due at that step (vector ``(t - L - 1) mod L``), or of the vector due one step later (a head that
  reads ahead and passes the vector on through the controller), whichever fits better;
* data drift: how far the data rows move from what was written during the input, at worst over the
  output, as ``|M_t[row] - M_L[row]| / |M_L[row]|`` (0: untouched; about 1: overwritten);
* write rows: how many distinct rows the write head's strongest row visits during the output, and
  whether it ever lands on a data row (a head that marches on one row per step through 100+ output
  steps wraps around the 128 rows and lands on the data).
"""

from __future__ import annotations

import argparse
import json

import jax
import numpy as np

from ntm import evaluate
from ntm import train as T

SIZES = [(10, 10), (10, 20), (20, 10), (20, 20)]


def analyse(model, task, length: int, repeats: int, sequences: int, seed: int = 0) -> dict:
    batch = task.sample(jax.random.key(seed), sequences, length, repeats=repeats)
    logits, trace = evaluate._traced(model, batch.inputs)
    read_w = np.asarray(trace.read_w)[:, :, 0]  # [T, B, N] (first read head)
    write_w = np.asarray(trace.write_w)[:, :, 0]  # [T, B, N]
    memory = np.asarray(trace.memory)  # [T, B, N, M] after each step's write
    L, R = length, repeats
    out_steps = np.arange(L + 1, L + 1 + L * R)  # steps that emit a vector
    on_target, drift, visits, lands = [], [], [], []
    for b in range(sequences):
        data_rows = write_w[:L, b].argmax(-1)  # [L]
        read_rows = read_w[out_steps, b].argmax(-1)
        on_target.append(max(np.mean(read_rows == data_rows[(out_steps - L - 1 + ahead) % L]) for ahead in (0, 1)))
        stored = memory[L - 1, b, data_rows]  # [L, M] the data rows when the input ends
        change = np.linalg.norm(memory[out_steps][:, b][:, data_rows] - stored, axis=-1)  # [L*R, L]
        drift.append(float(np.max(change / np.maximum(np.linalg.norm(stored, axis=-1), 1e-9))))
        rows = write_w[out_steps, b].argmax(-1)
        visits.append(len(np.unique(rows)))
        lands.append(bool(np.isin(rows, data_rows).any()))
    wrong = (np.asarray(logits) > 0) != (np.asarray(batch.targets) > 0.5)
    mask = np.asarray(batch.mask)[..., None]
    scored = mask.sum() * wrong.shape[-1]
    return {
        "length": L, "repeats": R,
        "bit_error_rate": float((wrong * mask).sum() / scored),
        "read_on_target": float(np.mean(on_target)),
        "data_drift": float(np.max(drift)),
        "write_rows_visited": float(np.median(visits)),
        "write_lands_on_data": float(np.mean(lands)),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("--sequences", type=int, default=32)
    p.add_argument("--json", metavar="OUT.json")
    args = p.parse_args()
    model, cfg, meta = T.load_run(args.run_dir)
    task = cfg.task_obj()
    print(f"{args.run_dir}: {cfg.model} after {int(meta['sequences']):,} sequences")
    print(f"{'L x R':>8} {'bit errors':>10} {'read on target':>15} {'data drift':>14} "
          f"{'write rows':>10} {'write hits data':>15}")
    records = []
    for length, repeats in SIZES:
        r = analyse(model, task, length, repeats, args.sequences)
        records.append(r)
        print(f"{length:>3} x {repeats:<3} {100 * r['bit_error_rate']:>9.2f}% {100 * r['read_on_target']:>14.1f}% "
              f"{r['data_drift']:>14.3f} {r['write_rows_visited']:>10.0f} {100 * r['write_lands_on_data']:>14.0f}%")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=2)


if __name__ == "__main__":
    main()
