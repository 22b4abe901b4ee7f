"""Compile time of the training program: ``ntm train TASK --model M``'s update call, traced and
compiled with the library's XLA options and with variants of them, and how fast each compiled
program then trains.

Builds the same program as the command (the task's default recipe, its batch and updates per
call, one CPU device), then for each variant: the seconds to trace and lower it, the seconds XLA
takes to compile it, and the median time of five calls (sequences per second).  No compilation
cache is used.  XLA's own split of the compile (HLO passes against code generation) is in its
log: run with ``TF_CPP_MIN_LOG_LEVEL=0 TF_CPP_VMODULE=cpu_compiler=1``.

    python benchmarks/compile_time.py                              # copy, NTM-FF, the library's options
    python benchmarks/compile_time.py --variants '{"O1": {"xla_backend_optimization_level": 1}}'

A variant maps XLA option names to values, added to the library's options (``ntm.fast.COMPILER_OPTIONS``);
a value of null removes that option.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="copy")
    p.add_argument("--model", default="ntm-ff")
    p.add_argument("--variants", default="{}", help="JSON: {name: {option: value or null}}; 'library' is always run first")
    p.add_argument("--batch-size", type=int, default=None, help="default: the recipe's")
    p.add_argument("--calls", type=int, default=5)
    args = p.parse_args()
    try:
        variants = {"library": {}, **json.loads(args.variants)}
    except json.JSONDecodeError as exc:
        p.error(f"--variants: {exc}")

    t0 = time.perf_counter()
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    import ntm
    from ntm import fast
    from ntm.training import TrainConfig
    from ntm.training.step import make_updates, run_updates

    fast.configure_cpu(1)
    jax.config.update("jax_enable_compilation_cache", False)
    print(f"imports: {time.perf_counter() - t0:.2f} s")

    cfg = TrainConfig(task=args.task, model=args.model, batch_size=args.batch_size).resolved()
    task = cfg.task_obj()
    model = ntm.build_model(cfg.model_config(), jax.random.key(0))
    # The command's training call, on one device; its run_updates is then compiled per variant.
    updates = make_updates(cfg.optimizer_obj(), task, batch_size=cfg.batch_size, num_steps=cfg.steps_per_call,
                           key=jax.random.key(1), devices=1)
    model, opt_state = updates.init(model)
    call_args = (model, opt_state, updates.key, jnp.asarray(0), jnp.asarray(2**30), updates.spec)
    sequences = cfg.batch_size * cfg.steps_per_call
    print(f"{args.task}, {args.model}: {cfg.optimizer} lr {cfg.learning_rate:g}, batch {cfg.batch_size}, "
          f"{cfg.steps_per_call} updates per call")

    print("| variant | trace and lower, s | compile, s | one call, ms (median) | seq/s |")
    print("|---|---|---|---|---|")
    for name, changes in variants.items():
        options = {**fast.compiler_options(), **changes}
        options = {k: v for k, v in options.items() if v is not None}
        jitted = eqx.filter_jit(run_updates.__wrapped__, compiler_options=options)
        t = time.perf_counter()
        lowered = jitted.lower(*call_args)
        lower_s = time.perf_counter() - t
        t = time.perf_counter()
        try:
            compiled = lowered.compile()
        except Exception as exc:  # an option this XLA does not know
            print(f"| {name} | {lower_s:.2f} | failed: {str(exc).splitlines()[0][:80]} | - | - |")
            continue
        compile_s = time.perf_counter() - t
        jax.block_until_ready(compiled(*call_args))
        times = []
        for _ in range(args.calls):
            t = time.perf_counter()
            jax.block_until_ready(compiled(*call_args))
            times.append(time.perf_counter() - t)
        call = statistics.median(times)
        print(f"| {name} | {lower_s:.2f} | {compile_s:.2f} | {call * 1e3:.0f} | {sequences / call:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
