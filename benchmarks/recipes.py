"""Training recipes, measured: sequences and seconds until the first evaluation below 0.05 bits.

    python benchmarks/recipes.py --task copy --model ntm-ff --seeds 0-4 --out docs/recipes/copy-ntm-ff.jsonl
    python benchmarks/recipes.py --summary docs/recipes/*.jsonl

For every setting (below) and seed, one ``ntm.training.fit`` run at the paper's sizes, evaluated on
256 fresh sequences every 256 sequences (so the figure is not set by a coarse evaluation
interval), stopped at the first evaluation below ``--target`` or at ``--sequences``.  Each result
is appended to the JSON-lines file as soon as it is known; a rerun skips the (setting, seed)
pairs already there, so an interrupted measurement resumes.  Wall seconds are from the start of
the run's ``fit`` (compilation included; the first run of each setting compiles, later seeds of
it reuse the program).

Settings (``--settings`` picks some, comma-separated):

- ``default``: the library's default recipe: Adam 3e-3, batch 8, per-component clipping at 10;
- ``rmsprop-LR-in`` / ``rmsprop-LR-out``: centred RMSProp (decay 0.95, momentum 0.9, eps 1e-4)
  at batch 1, with eps inside the square root (Graves 2013, the paper) or outside it (PyTorch's
  form, the strongest public peer's), LR in 1e-4, 3e-4, 1e-3, per-component clipping at 10;
- ``rmsprop-3e-4-in-norm``: the same at 3e-4 with the gradient's global norm clipped at 10;
- ``rmsprop-3e-4-in-randmem``: the same at 3e-4 with a learned initial memory drawn from N(0, 0.05^2)
  instead of the constant 1e-6.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

SETTINGS = ["default"] + [f"rmsprop-{lr}-{eps}" for lr in ("1e-4", "3e-4", "1e-3") for eps in ("in", "out")] + [
    "rmsprop-3e-4-in-norm", "rmsprop-3e-4-in-randmem",
]


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    return out


def recipe(name: str):
    """``(optimizer, batch_size, memory)`` of a setting; memory is "constant" or "randmem"."""
    import optax

    if name == "default":
        return optax.chain(optax.clip(10.0), optax.adam(3e-3)), 8, "constant"
    parts = name.split("-")  # rmsprop, lr mantissa, lr exponent, in/out[, norm|randmem]
    lr, eps, extra = float(f"{parts[1]}-{parts[2]}"), parts[3], parts[4] if len(parts) > 4 else ""
    rms = optax.rmsprop(lr, decay=0.95, eps=1e-4, eps_in_sqrt=eps == "in", centered=True, momentum=0.9)
    clip = optax.clip_by_global_norm(10.0) if extra == "norm" else optax.clip(10.0)
    return optax.chain(clip, rms), 1, "randmem" if extra == "randmem" else "constant"


def measure(args) -> None:
    import ntm.fast

    ntm.fast.configure_cpu(1)  # batch 1 does not split; the default's batch of 8 runs on one core too
    import equinox as eqx
    import jax

    import ntm
    from ntm.training import fit

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = set()
    if out.exists():
        done = {(r["setting"], r["seed"]) for r in map(json.loads, out.read_text().splitlines()) if r}
    task = ntm.tasks.get(args.task)
    settings = args.settings.split(",") if args.settings else SETTINGS
    for setting in settings:
        optimizer, batch, memory = recipe(setting)
        for seed in _seeds(args.seeds):
            if (setting, seed) in done:
                continue
            config = ntm.model_config(task, args.model)
            if memory == "randmem":
                config = dataclasses.replace(config, memory_init="learned")
            model = ntm.build_model(config, jax.random.key(seed))
            if memory == "randmem":
                draw = 0.05 * jax.random.normal(jax.random.fold_in(jax.random.key(seed), 7), model.memory0.shape)
                model = eqx.tree_at(lambda m: m.memory0, model, draw)
            t0 = time.perf_counter()
            result = fit(model, task, optimizer, batch_size=batch, sequences=args.sequences, seed=seed,
                         target_cost=args.target, eval_every=256, eval_batch=256, progress=False)
            record = {
                "task": task.name, "model": args.model, "setting": setting, "seed": seed, "batch_size": batch,
                "solved": result.solved, "sequences": result.sequences, "wall_s": time.perf_counter() - t0,
                "eval_cost": result.eval_cost, "best_cost": result.best_cost, "stop_reason": result.stop_reason,
            }
            with open(out, "a") as f:
                f.write(json.dumps(record) + "\n")
            print(json.dumps(record), flush=True)


def summary(paths: list[str]) -> None:
    rows: dict[tuple, list[dict]] = {}
    for path in paths:
        for line in Path(path).read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                rows.setdefault((r["task"], r["model"], r["setting"]), []).append(r)
    print("| task | model | setting | solved | sequences to < 0.05 bits: median (each seed) | wall s: median (worst) |")
    print("|---|---|---|---|---|---|")
    for (task, model, setting), rs in rows.items():
        rs.sort(key=lambda r: r["seed"])
        solved = [r for r in rs if r["solved"]]
        each = ", ".join(f"{r['sequences']:,}" if r["solved"] else f"({r['best_cost']:.2g} bits at {r['sequences']:,})"
                         for r in rs)
        med = f"{statistics.median(r['sequences'] for r in rs):,.0f}" if len(solved) == len(rs) else "-"
        wall = (f"{statistics.median(r['wall_s'] for r in rs):.1f} ({max(r['wall_s'] for r in rs):.1f})"
                if len(solved) == len(rs) else "-")
        print(f"| {task} | {model} | {setting} | {len(solved)}/{len(rs)} | {med} ({each}) | {wall} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="copy")
    p.add_argument("--model", default="ntm-ff")
    p.add_argument("--seeds", default="0-4")
    p.add_argument("--settings", help=f"comma-separated, of: {', '.join(SETTINGS)} (default: all)")
    p.add_argument("--sequences", type=int, default=30_000, help="budget per run")
    p.add_argument("--target", type=float, default=0.05)
    p.add_argument("--out", help="JSON-lines file to append results to")
    p.add_argument("--summary", nargs="+", metavar="FILE", help="print the table of these result files")
    args = p.parse_args()
    if args.summary:
        summary(args.summary)
    elif args.out:
        measure(args)
    else:
        sys.exit("give --out FILE to measure, or --summary FILE... to print a table")


if __name__ == "__main__":
    main()
