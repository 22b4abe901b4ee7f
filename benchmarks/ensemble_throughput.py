"""An ensemble of batch-1 learners against one model at batch 8 and one at batch 1, in one process.

    python benchmarks/ensemble_throughput.py [--members 8] [--rounds 5] [--sequences 2048]
        [--models ntm-ff,ntm-lstm] [--ensemble-devices D]

Copy at the paper's sizes (``ntm.model_config(task, MODEL)``), Adam 3e-3 with every gradient
component clipped at 10.  For each model, each round times, one after another, ``--sequences``
sequences of training through:

- ``ensemble``: ``--members`` models at batch 1 in one compiled program
  (``ntm.training.ensemble.make_ensemble_updates``, the call ``fit_ensemble`` and
  ``ntm train --seeds`` make), the members split over the devices, 256 updates of each per call;
- ``batch 8``: one model at batch 8 (``ntm.training.step.make_updates``, the call ``ntm train``
  makes, each batch split over the devices), 32 updates per call;
- ``batch 1``: one model at batch 1 (``make_updates``), 256 updates per call.

It prints each loop's median sequences per second over the rounds and the ensemble's ratio to the
others (the target: the ensemble at >= 70% of batch 8's sequences per second).  Like the ``ntm``
command, it first makes one CPU device per core that the batch of 8 splits over, one thread each
(``ntm.fast.configure_cpu``); the batch-1 model runs on one of those devices.
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sequences", type=int, default=2048, help="sequences timed per loop and round")
    parser.add_argument("--models", default="ntm-ff,ntm-lstm")
    parser.add_argument("--ensemble-devices", type=int, default=None,
                        help="devices the members are split over (default: as many as divide their number)")
    args = parser.parse_args()

    import ntm.fast

    ntm.fast.configure_cpu(ntm.fast.split_count(8, ntm.fast.cpu_count()))
    import jax
    import optax

    import ntm
    from ntm.training import data_parallel_devices
    from ntm.training.ensemble import make_ensemble_updates
    from ntm.training.step import make_updates

    k = args.members
    task = ntm.tasks.get("copy")
    optimizer = optax.chain(optax.clip(10.0), optax.adam(3e-3))
    print("$ python " + " ".join(shlex.quote(a) for a in sys.argv))
    print(f"jax {jax.__version__}, {jax.device_count()} CPU device(s), {ntm.fast.cpu_count()} core(s); "
          f"batch 8 split over {data_parallel_devices(8)}")

    for name in args.models.split(","):
        config = ntm.model_config(task, name)
        models = [ntm.build_model(config, jax.random.key(s)) for s in range(k)]
        ensemble = make_ensemble_updates(optimizer, task, seeds=range(k), batch_size=1, num_steps=256,
                                         devices=args.ensemble_devices)
        singles = {
            "batch 8": make_updates(optimizer, task, batch_size=8, num_steps=32, key=jax.random.key(1)),
            "batch 1": make_updates(optimizer, task, batch_size=1, num_steps=256, key=jax.random.key(1)),
        }
        state = {"ensemble": ensemble.init(models), **{n: u.init(models[0]) for n, u in singles.items()}}
        progress = {n: 0 for n in state}  # the next update of each loop

        def train_ensemble(sequences: int) -> None:
            m, o = state["ensemble"]
            for _ in range(max(1, sequences // (256 * k))):
                m, o, stats = ensemble(m, o, progress["ensemble"])
                progress["ensemble"] += 256
            jax.block_until_ready(stats.cost)
            state["ensemble"] = (m, o)

        def train_single(label: str):
            updates = singles[label]
            per_call = updates.spec.num_steps * updates.spec.batch_size

            def run(sequences: int) -> None:
                m, o = state[label]
                for _ in range(max(1, sequences // per_call)):
                    m, o, stats = updates(m, o, progress[label])
                    progress[label] += updates.spec.num_steps
                jax.block_until_ready(stats.cost)
                state[label] = (m, o)

            return run

        loops = {"ensemble": (train_ensemble, 256 * k), "batch 8": (train_single("batch 8"), 256),
                 "batch 1": (train_single("batch 1"), 256)}
        print(f"\n{name}: copy, {config.memory_rows} x {config.memory_width} memory, controller "
              f"{config.controller_size}; {k} members at batch 1 split over {ensemble.devices} device(s)")
        for label, (fn, _) in loops.items():  # compile, and one warm call
            t0 = time.perf_counter()
            fn(0)
            print(f"  {label}: first call {time.perf_counter() - t0:.1f} s")
        speeds: dict[str, list[float]] = {label: [] for label in loops}
        for _ in range(args.rounds):
            for label, (fn, per_call) in loops.items():
                n = max(per_call, args.sequences // per_call * per_call)
                t0 = time.perf_counter()
                fn(n)
                speeds[label].append(n / (time.perf_counter() - t0))
        medians = {label: statistics.median(v) for label, v in speeds.items()}
        print(f"  sequences per second, median of {args.rounds} rounds (range); the ensemble's ratio to each:")
        for label, values in speeds.items():
            print(f"    {label:9s} {medians[label]:7.0f}  ({min(values):.0f}-{max(values):.0f})  "
                  f"{medians['ensemble'] / medians[label]:5.2f}")
        verdict = "met" if medians["ensemble"] >= 0.7 * medians["batch 8"] else "missed"
        print(f"  target (ensemble >= 0.70 x batch 8): {verdict}")


if __name__ == "__main__":
    main()
