"""Stability of long runs: what each run's evaluations did after it first solved its task.

    ntm sweep copy --lr 3e-4 --seeds 0-7 --sequences 100000 --target-cost none --out experiments/stability-copy-ntm-ff
    python benchmarks/stability.py experiments/stability-copy-ntm-ff/*-seed* [--plot FILE.png]

For every run directory: the sequences at its first evaluation below --solved (0.05 bits), its
last and its worst evaluation cost after that, and how many collapses it had: times an evaluation
went above --collapse (1 bit) after an evaluation below --solved (a run that recovers and
collapses again counts twice).  The plot draws every run's evaluation costs on one log axis.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path


def evaluations(run_dir: Path) -> list[tuple[int, float]]:
    from ntm.runs import Run

    out = []
    for row in Run(run_dir).metrics():
        cost = row.get("eval_cost_bits")
        if cost is not None and not math.isnan(cost):
            out.append((int(row["sequences"]), float(cost)))
    return out


def analyse(points: list[tuple[int, float]], solved: float, collapse: float) -> dict:
    first = next((s for s, c in points if c < solved), None)
    after = [c for s, c in points if first is not None and s >= first]
    collapses, low = 0, False
    for _, c in points:
        if c < solved:
            low = True
        elif c > collapse and low:
            collapses, low = collapses + 1, False
    return {"first_solved": first, "last": points[-1][1] if points else None,
            "worst_after": max(after) if after else None, "collapses": collapses,
            "sequences": points[-1][0] if points else 0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--solved", type=float, default=0.05)
    p.add_argument("--collapse", type=float, default=1.0)
    p.add_argument("--plot", type=Path)
    args = p.parse_args()
    print(f"| run | first eval < {args.solved} (sequences) | last eval cost | worst eval cost after solving | "
          f"collapses (> {args.collapse} bit after solving) | sequences |")
    print("|---|---|---|---|---|---|")
    curves = {}
    for run in args.runs:
        points = evaluations(run)
        curves[run.name] = points
        r = analyse(points, args.solved, args.collapse)
        fmt = lambda x: "-" if x is None else f"{x:.3g}"  # noqa: E731
        first = "-" if r["first_solved"] is None else f"{r['first_solved']:,}"
        print(f"| {run.name} | {first} | {fmt(r['last'])} | {fmt(r['worst_after'])} | {r['collapses']} | "
              f"{r['sequences']:,} |")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
        for name, points in curves.items():
            ax.plot([s for s, _ in points], [max(c, 1e-6) for _, c in points], lw=1, label=name)
        ax.set_yscale("log")
        ax.axhline(args.solved, color="grey", ls=":", lw=1)
        ax.axhline(args.collapse, color="C3", ls=":", lw=1)
        ax.set_xlabel("sequences")
        ax.set_ylabel("evaluation cost (bits per sequence)")
        ax.legend(fontsize=7, ncol=2)
        fig.savefig(args.plot, dpi=110)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
