"""Figures and the results table for REPRODUCTION.md, from a grid directory written by `ntm reproduce`.

    python scripts/make_reproduction_figures.py repro docs/reproduction

Per task: learning curves of every model run on one axis, the generalisation curves, and the
memory-access picture of the NTM-FF run; plus ``table.md`` (the summary table of every cell).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jax

from ntm import evaluate, reproduce, viz
from ntm import train as T


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
        viz.plot_learning_curves(dirs, out_dir / f"{task}-learning.png", log_y=True)
        viz.plot_generalisation({f"{r['model']} seed {r['seed']}": r["generalisation"] for r in rs},
                                out_dir / f"{task}-generalisation.png", log_y=True)
        ff = grid_dir / f"{task}-ntm-ff-seed0"
        if ff.is_dir():
            model, cfg, meta = T.load_run(ff)
            seq = evaluate.sample_trace(model, cfg.task_obj(), None, key=jax.random.key(7))
            viz.plot_memory_access(seq.inputs, seq.targets, seq.outputs, seq.trace, out_dir / f"{task}-memory.png",
                                   f"{task}, ntm-ff after {int(meta['sequences']):,} sequences: "
                                   f"cost {seq.cost_bits:.3g} bits")
        print(task, "done", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
