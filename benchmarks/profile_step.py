"""Where an update's time goes: an XLA-level profile of one NTM training update, by kind of operation.

Profiles forward + backward of the copy-task loss (paper preset, T = 41 steps, fixed random data) with
``jax.profiler`` and sums the time of every executed XLA operation into five groups:

- memory passes: fused loops whose output is a whole ``[B, M, N]`` memory (write, its gradient...);
- residual stack: filling, saving to and loading from the stack of every step's memory that the
  backward pass reads (``[T, B, M, N]``);
- matrix products: every ``dot`` (controller and head layers, reads, sums over N);
- addressing and the rest: the many small operations on ``[B, H, N]`` weightings and vectors.

    python benchmarks/profile_step.py                   # batch 32
    python benchmarks/profile_step.py --batch-size 1 --top 20

Prints the median wall time of the compiled update without profiling, the groups (ms per update,
share, operations per time step) and the most expensive operations.  Profiling adds overhead to
each operation, so the group totals exceed the unprofiled time; the shares are what to read.
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import re
import statistics
import tempfile
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--model", default="ntm-ff", choices=["ntm-ff", "ntm-lstm"])
    p.add_argument("--repeats", type=int, default=5, help="profiled calls (and 2x as many timed ones)")
    p.add_argument("--top", type=int, default=12, help="how many single operations to list")
    args = p.parse_args()

    from ntm.fast import xla as _xla

    _xla.one_thread_cpu_client()  # as the ntm command does
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from ntm import metrics, presets

    model = presets.build_model(presets.model_config("copy", args.model), jax.random.key(0))
    params, static = eqx.partition(model, model.trainable_filter())
    b, t = args.batch_size, 41
    x = (jax.random.uniform(jax.random.key(1), (b, t, 9)) > 0.5).astype(jnp.float32)
    y = (jax.random.uniform(jax.random.key(2), (b, t, 8)) > 0.5).astype(jnp.float32)
    mask = jnp.ones((b, t))

    def loss(p):
        return jnp.mean(metrics.cost_bits(eqx.combine(p, static).run(x), y, mask))

    grad = jax.jit(jax.grad(loss), compiler_options=_xla.compiler_options())
    hlo = grad.lower(params).compile().as_text()
    jax.block_until_ready(grad(params))
    times = []
    for _ in range(2 * args.repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(grad(params))
        times.append(time.perf_counter() - t0)
    print(f"{args.model}, batch {b}, {t} steps: forward + backward {1e3 * statistics.median(times):.1f} ms "
          f"(median of {len(times)}, not profiled)")

    shapes = {}
    for line in hlo.splitlines():
        m = re.match(r"\s*(?:ROOT )?%([\w.\-]+) = (\S+) ", line)
        if m:
            shapes[m.group(1)] = m.group(2)
    with tempfile.TemporaryDirectory() as tmp:
        jax.profiler.start_trace(tmp, create_perfetto_trace=True)
        for _ in range(args.repeats):
            jax.block_until_ready(grad(params))
        jax.profiler.stop_trace()
        (trace_file,) = glob.glob(f"{tmp}/**/*.trace.json.gz", recursive=True)
        with gzip.open(trace_file) as f:
            data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    total, count = collections.Counter(), collections.Counter()
    for e in events:
        name = e.get("name", "")
        if e.get("ph") == "X" and name in shapes:
            total[name] += e.get("dur", 0)
            count[name] += 1

    memory_size = b * model.config.memory_rows * model.config.memory_width

    def group(name: str) -> str:
        shape = shapes[name]
        dims = [int(d) for d in re.findall(r"\d+", shape.split("[", 1)[-1].split("]")[0])] if "[" in shape else []
        size = 1
        for d in dims:
            size *= d
        if size >= t * memory_size or ("dynamic-slice" in name and size == memory_size):
            return "residual stack"
        if name.startswith("dot"):
            return "matrix products"
        if size == memory_size:
            return "memory passes"
        return "addressing and the rest"

    groups, group_ops = collections.Counter(), collections.Counter()
    for name, us in total.items():
        groups[group(name)] += us
        group_ops[group(name)] += count[name]
    whole = sum(groups.values())
    per_update = lambda us: us / args.repeats / 1e3  # noqa: E731
    print(f"\nprofiled operations: {per_update(whole):.1f} ms per update, "
          f"{sum(count.values()) / args.repeats / t:.0f} operations per time step")
    for g, us in groups.most_common():
        print(f"  {g:25s} {per_update(us):7.2f} ms  {100 * us / whole:5.1f}%  "
              f"{group_ops[g] / args.repeats / t:6.1f} ops/step")
    print("\nmost expensive operations (per update):")
    for name, us in total.most_common(args.top):
        print(f"  {per_update(us):7.3f} ms  {count[name] / args.repeats:5.0f}x  {shapes[name][:30]:30s} {name}")


if __name__ == "__main__":
    main()
