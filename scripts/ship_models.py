"""Choose the models the package ships from a reproduction grid, and ship them.

    python scripts/ship_models.py experiments/reproduction            # compare; changes nothing
    python scripts/ship_models.py experiments/reproduction --write    # ship the better ones
    python scripts/ship_models.py experiments/reproduction --tasks repeat_copy

For each task: the best and the last checkpoint of every NTM cell of the grid, and the model shipped
now, are scored on the same 256 fresh sequences of each size in SIZES, the worst size counting
(dynamic n-grams as the excess over the Bayes-optimal cost of the same sequences).  With ``--write``
the lowest cost replaces the shipped model where it is lower (``ntm.pretrained.export``: the run's
config and that checkpoint's parameters, no optimiser state).

The last checkpoint is scored too because a run's "best" is the one of its lowest evaluation cost,
each evaluation on a fresh batch: on dynamic n-grams the batches' own optimum varies by several
bits, so the lowest evaluation marks an easy batch more than a good model.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax

from ntm import evaluate, pretrained, report
from ntm.runs import Run, RunError

# The sizes each task is scored at (the training size, or the top of the training range); a model
# scores the worst of them.  Repeat copy: length 10 with 1-10 repeats drawn per sequence, and 10
# repeats of every sequence, so that a model the drawn counts flatter but which fails at 10 x 10
# is not shipped.
SIZES: dict[str, list[tuple[int, dict]]] = {
    "copy": [(20, {})], "repeat_copy": [(10, {}), (10, {"repeats": 10})], "associative_recall": [(6, {})],
    "dynamic_ngrams": [(200, {})], "priority_sort": [(20, {})],
}


def score(model, task, sizes: list[tuple[int, dict]]) -> float:
    """The highest cost (bits per sequence; n-grams: above the optimum) over ``sizes``."""
    costs = []
    for length, kw in sizes:
        r = evaluate.evaluate(model, task, length, batch_size=256, key=jax.random.key(2024), **kw)
        costs.append(r["cost_bits"] - r.get("optimal_cost_bits", 0.0))
    return max(costs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("grid")
    p.add_argument("--write", action="store_true", help="ship the better models")
    p.add_argument("--tasks", help="comma-separated tasks (default: all)")
    args = p.parse_args()
    only = None if args.tasks is None else set(args.tasks.split(","))
    best: dict[str, tuple[float, Path, str]] = {}
    for (task, model_name), cells in report.collect(args.grid).items():
        if model_name == "lstm" or task not in SIZES or (only is not None and task not in only):
            continue
        for cell in cells:
            for which in ("best", "last"):
                try:
                    model, info = Run(cell.path).load_model(which)
                except (RunError, OSError, ValueError):
                    continue
                cost = score(model, Run(cell.path).task(), SIZES[task])
                print(f"{cell.path.name:32s} {info.describe():60s} {cost:9.4f}", flush=True)
                if task not in best or cost < best[task][0]:
                    best[task] = (cost, cell.path, which)
    for task, (cost, path, which) in sorted(best.items()):
        shipped = None
        if task in pretrained.available():
            m, cfg = pretrained.load(task)
            shipped = score(m, cfg.task_obj(), SIZES[task])
        better = shipped is None or cost < shipped
        print(f"{task}: best {path.name} ({which}) {cost:.4f} bits; shipped {shipped if shipped is None else round(shipped, 4)}"
              f" -> {'ship' if better else 'keep'}")
        if better and args.write:
            print("  wrote", pretrained.export(path, task, which))


if __name__ == "__main__":
    main()
