"""A user's own training loop around ntm.NTM against `ntm train`'s, side by side in one process.

    python benchmarks/user_loop.py [--batch-size 8] [--rounds 5] [--updates 256]

Copy, NTM-FF at the paper's sizes, Adam 3e-3 with per-component clipping at 10 (the default
recipe), lengths 1-20.  Each round times, one after another:

- ``ntm train``: the compiled call the training loop makes (``ntm.training.step.run_updates``),
  256 sequences of updates per call with the batches sampled inside, split over the devices;
- ``make_updates``: the loop the README shows: a Python loop over calls of
  ``ntm.training.step.make_updates`` (32 updates each, batches sampled inside), the user's own
  code between calls;
- ``make_step``: ``task.sample`` then ``step(model, opt_state, batch)`` in Python, one update per
  call, for data of one's own (``ntm.training.make_step``, which splits the batch too);
- ``own jit, fast``: a step written by hand with ``eqx.filter_value_and_grad`` and optax, compiled
  with ``ntm.fast.jit`` (one device);
- ``own jit, plain``: the same step under ``eqx.filter_jit``, without the NTM compiler options.

It prints each loop's median sequences per second over the rounds and its ratio to ``ntm train``,
then checks that ``ntm.fast.jit`` leaves a program without an NTM alone: an MLP's training step
under ``ntm.fast.jit`` and under ``jax.jit``, alternating.  Like the ``ntm`` command, it first makes
one CPU device per core with one thread each (``ntm.fast.configure_cpu``).
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--updates", type=int, default=256, help="updates timed per loop and round")
    args = parser.parse_args()

    import ntm.fast

    ntm.fast.configure_cpu(ntm.fast.split_count(args.batch_size, ntm.fast.cpu_count()))
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    import ntm
    from ntm.training import data_parallel_devices, make_step
    from ntm.training.step import make_updates

    b = args.batch_size
    task = ntm.tasks.get("copy")
    model = ntm.build_model(ntm.model_config(task, "ntm-ff"), jax.random.key(0))
    optimizer = optax.chain(optax.clip(10.0), optax.adam(3e-3))
    devices = data_parallel_devices(b)
    print(f"jax {jax.__version__}, {jax.device_count()} CPU device(s); batch {b}, split over {devices}")

    # ntm train: the training loop's compiled call.
    per_call = max(1, 256 // b)
    updates = make_updates(optimizer, task, batch_size=b, num_steps=per_call, key=jax.random.key(1))
    state = {"train": updates.init(model)}

    def ntm_train(n_updates: int, start: int) -> None:
        m, o = state["train"]
        for s in range(start, start + n_updates, per_call):
            m, o, stats = updates(m, o, s)
        jax.block_until_ready(stats.cost)
        state["train"] = (m, o)

    # The README's loop: make_updates, 32 updates per call with the batches sampled inside, and
    # whatever the user wants between calls (here: nothing).
    own_updates = make_updates(optimizer, task, batch_size=b, num_steps=per_call, key=jax.random.key(4))
    state["updates"] = own_updates.init(model)

    def updates_loop(n_updates: int, start: int) -> None:
        m, o = state["updates"]
        for s in range(start, start + n_updates, per_call):
            m, o, stats = own_updates(m, o, s)
            if s % 1024 == 0:  # a user's logging: one number off the device now and then
                float(stats.cost[-1])
        jax.block_until_ready(stats.cost)
        state["updates"] = (m, o)

    # make_step: one update per call, batches sampled in Python (any data would do).
    step = make_step(optimizer, task)
    state["step"] = (model, step.init(model))

    def readme_loop(n_updates: int, start: int) -> None:
        m, o = state["step"]
        key = jax.random.key(2)
        for s in range(start, start + n_updates):
            m, o, stats = step(m, o, task.sample(jax.random.fold_in(key, s), b))
        jax.block_until_ready(stats.cost)
        state["step"] = (m, o)

    # A step written by hand, as a user of Equinox and optax would.
    def own_step(m, o, batch):
        def loss(m):
            logits = m.run(batch.inputs)
            return jnp.mean(ntm.metrics.cost_bits(logits, batch.targets, batch.mask))

        value, grads = eqx.filter_value_and_grad(loss)(m)
        updates, o = optimizer.update(grads, o, eqx.filter(m, eqx.is_inexact_array))
        return eqx.apply_updates(m, updates), o, value

    own = {"fast": ntm.fast.jit(own_step, filter=True), "plain": eqx.filter_jit(own_step)}
    for name in own:
        state[name] = (model, optimizer.init(eqx.filter(model, eqx.is_inexact_array)))

    def own_loop(name: str):
        def run(n_updates: int, start: int) -> None:
            m, o = state[name]
            key = jax.random.key(3)
            for s in range(start, start + n_updates):
                m, o, value = own[name](m, o, task.sample(jax.random.fold_in(key, s), b))
            jax.block_until_ready(value)
            state[name] = (m, o)

        return run

    loops = {"ntm train": ntm_train, "make_updates": updates_loop, "make_step": readme_loop, "own jit, fast": own_loop("fast"),
             "own jit, plain": own_loop("plain")}
    for name, fn in loops.items():  # compile, and one warm stretch
        t0 = time.perf_counter()
        fn(per_call, 0)
        print(f"  {name}: first call {time.perf_counter() - t0:.1f} s")
    speeds: dict[str, list[float]] = {name: [] for name in loops}
    n = max(per_call, args.updates // per_call * per_call)
    for r in range(args.rounds):
        for name, fn in loops.items():
            t0 = time.perf_counter()
            fn(n, (r + 1) * n)
            speeds[name].append(n * b / (time.perf_counter() - t0))
    reference = statistics.median(speeds["ntm train"])
    print(f"\nsequences per second, median of {args.rounds} rounds of {n} updates (range); "
          f"time per update against ntm train's:")
    for name, values in speeds.items():
        med = statistics.median(values)
        print(f"  {name:15s} {med:8.0f}  ({min(values):.0f}-{max(values):.0f})  {reference / med:5.2f}x")

    # ntm.fast.jit on a program without an NTM: an MLP's training step, the same as jax.jit.
    mlp = eqx.nn.MLP(64, 64, 256, 3, key=jax.random.key(4))
    x = jax.random.normal(jax.random.key(5), (256, 64))
    opt = optax.adam(1e-3)

    def mlp_step(m, o):
        value, grads = eqx.filter_value_and_grad(lambda m: jnp.mean(jax.vmap(m)(x) ** 2))(m)
        updates, o = opt.update(grads, o, eqx.filter(m, eqx.is_inexact_array))
        return eqx.apply_updates(m, updates), o, value

    mlp_jits = {"jax.jit": eqx.filter_jit(mlp_step), "ntm.fast.jit": ntm.fast.jit(mlp_step, filter=True)}
    mlp_times: dict[str, list[float]] = {name: [] for name in mlp_jits}
    mlp_state = {name: (mlp, opt.init(eqx.filter(mlp, eqx.is_inexact_array))) for name in mlp_jits}
    for name, f in mlp_jits.items():
        jax.block_until_ready(f(*mlp_state[name])[2])
    for _ in range(args.rounds * 3):
        for name, f in mlp_jits.items():
            m, o = mlp_state[name]
            t0 = time.perf_counter()
            for _ in range(50):
                m, o, value = f(m, o)
            jax.block_until_ready(value)
            mlp_times[name].append((time.perf_counter() - t0) / 50 * 1e3)
            mlp_state[name] = (m, o)
    plain = statistics.median(mlp_times["jax.jit"])
    print("\nan MLP's training step (64-256-256-64, batch 256), ms, median of", len(mlp_times["jax.jit"]), "runs of 50:")
    for name, values in mlp_times.items():
        print(f"  {name:13s} {statistics.median(values):7.3f}  ({min(values):.3f}-{max(values):.3f})  "
              f"{statistics.median(values) / plain:.3f}x")


if __name__ == "__main__":
    main()
