"""Figures and the results table for REPRODUCTION.md, from a grid directory written by `ntm reproduce`.

    python scripts/make_reproduction_figures.py repro docs/reproduction

Per task: learning curves of every model run on one axis, the generalisation curves, and the
memory-access picture of an NTM run (the NTM-FF where it solved the task, else the best); plus
``table.md`` (the summary table of every cell).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jax

from ntm import evaluate, reproduce, viz
from ntm.runs import Run

# Bayes-optimal dynamic n-gram cost per 200-bit sequence, measured with
# ntm.metrics.ngram_optimal_cost on 50,000 sampled sequences (REPRODUCTION.md).
NGRAM_OPTIMUM = 133.1


def main(grid: str, out: str) -> None:
    grid_dir, out_dir = Path(grid), Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = [json.loads(p.read_text()) for p in sorted(grid_dir.glob(f"*/{reproduce.RESULT_FILE}"))]
    (out_dir / "table.md").write_text(reproduce.summary_table(records) + "\n")
    by_task: dict[str, list[dict]] = {}
    for r in records:
        by_task.setdefault(r["task"], []).append(r)
    for task, rs in by_task.items():
        dirs = [grid_dir / f"{task}-{r['model']}-seed{r['seed']}" for r in rs]
        labels = [f"{r['model']} seed {r['seed']} ({r['sequences']:,} seq, {r['wall_time']:.0f} s)" for r in rs]
        # Costs that approach zero read best on a log axis; n-grams approach the Bayes optimum.
        ngrams = task == "dynamic_ngrams"
        reference = (NGRAM_OPTIMUM, f"Bayes-optimal ({NGRAM_OPTIMUM} bits)") if ngrams else None
        viz.plot_learning_curves(dirs, out_dir / f"{task}-learning.png", labels=labels, log_y=not ngrams,
                                 reference=reference)
        viz.plot_generalisation({f"{r['model']} seed {r['seed']}": r["generalisation"] for r in rs},
                                out_dir / f"{task}-generalisation.png", log_y=not ngrams)
        # The memory-access picture of the NTM-FF if it solved the task (the paper's pictures are
        # of feedforward NTMs), else of the NTM run with the lowest evaluation cost.
        ntm_runs = [r for r in rs if r["model"].startswith("ntm") and r["eval_cost"] is not None]
        if ntm_runs:
            best = min(ntm_runs, key=lambda r: (not (r["solved"] and r["model"] == "ntm-ff"), r["eval_cost"]))
            run = Run(grid_dir / f"{task}-{best['model']}-seed{best['seed']}")
            model, info = run.load_model("best")
            seq = evaluate.sample_trace(model, run.task(), None, key=jax.random.key(7))
            viz.plot_memory_access(seq.inputs, seq.targets, seq.outputs, seq.trace, out_dir / f"{task}-memory.png",
                                   f"{task}, {best['model']}, {info.describe()}: cost {seq.cost_bits:.3g} bits",
                                   mask=seq.mask)
        print(task, "done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
