"""Training speed with one model field at two or more values, timed alternately in one process.

Builds the paper's model for TASK and MODEL once per value of FIELD, compiles each one's training
call (``ntm.training.step.make_updates``: optax's RMSProp at 3e-4 after per-component clipping at
10; about 256 sequences per call), then times the calls in turns, value
after value, so that a busy machine slows every value alike.  Prints the median sequences per
second of each value and its first call (compile included).

    python benchmarks/model_field_ab.py copy ntm-ff 1 state_grad_clip=1000,0
    python benchmarks/model_field_ab.py copy ntm-lstm 8 state_grad_clip=1000,0 --rounds 9
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("task")
    p.add_argument("model", choices=("ntm-ff", "ntm-lstm"))
    p.add_argument("batch_size", type=int)
    p.add_argument("field", help="FIELD=V1,V2,... (values as JSON, or plain strings)")
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args()
    name, _, text = args.field.partition("=")
    if not text:
        p.error("field must look like FIELD=V1,V2")

    def value(v: str):
        try:
            return json.loads(v)
        except json.JSONDecodeError:
            return v

    values = [value(v) for v in text.split(",")]

    from ntm import fast

    fast.configure_cpu(1)
    import jax
    import optax

    import ntm
    from ntm.training.step import make_updates

    task = ntm.tasks.get(args.task)
    base = ntm.model_config(task, args.model)
    steps = max(1, 256 // args.batch_size)
    optimizer = optax.chain(optax.clip(10.0), optax.rmsprop(3e-4))
    runs = []
    for v in values:
        model = ntm.build_model(dataclasses.replace(base, **{name: v}), jax.random.key(0))
        updates = make_updates(optimizer, task, batch_size=args.batch_size, num_steps=steps, key=jax.random.key(1))
        model, opt_state = updates.init(model)
        t = time.perf_counter()
        jax.block_until_ready(updates(model, opt_state, 0))
        runs.append((v, updates, model, opt_state, time.perf_counter() - t, []))
    for _ in range(args.rounds):
        for _, updates, model, opt_state, _, times in runs:
            t = time.perf_counter()
            jax.block_until_ready(updates(model, opt_state, 0))
            times.append(time.perf_counter() - t)
    print(f"{args.task}, {args.model}, batch {args.batch_size}, {steps} updates per call, {args.rounds} rounds")
    for v, _, _, _, first, times in runs:
        rate = steps * args.batch_size / statistics.median(times)
        print(f"  {name}={v!r}: {rate:,.0f} seq/s (median), first call {first:.1f} s")


if __name__ == "__main__":
    main()
