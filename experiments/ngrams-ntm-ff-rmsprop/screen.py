"""Dynamic n-grams, NTM-FF: batch-1 centred RMSProp at the given learning rates (seeds 0 and 1 each),
as one ensemble on one core, against the grid cell's Adam 1e-3 at batch 8.  Resumable: run it
again and the members continue from their checkpoints (OUT/lrLR-seedS).

    nohup taskset -c 0 python experiments/ngrams-ntm-ff-rmsprop/screen.py 1e-3,3e-4 > /tmp/screen.log 2>&1 &
    nohup taskset -c 1 python experiments/ngrams-ntm-ff-rmsprop/screen.py 1e-4 > /tmp/screen2.log 2>&1 &

Stop it with ``kill PID``: each member resumes from its checkpoint of its last evaluation (every
1,000 sequences).  The second argument is the budget in sequences per member (default 400,000).
"""

import sys
from pathlib import Path

import jax
import optax

import ntm
from ntm import training as T
from ntm.training.optimizers import paper_rmsprop

OUT = Path(__file__).parent
task = ntm.tasks.get("dynamic_ngrams")
config = ntm.model_config(task, "ntm-ff")  # the paper's sizes: 100 units, one read and one write head
members = [(float(lr), s) for lr in sys.argv[1].split(",") for s in (0, 1)]
optimizer = optax.chain(optax.clip(10.0), optax.inject_hyperparams(paper_rmsprop)(learning_rate=1e-3))
results = T.fit_ensemble(
    lambda s: ntm.build_model(config, jax.random.key(s)), task, optimizer,
    seeds=[s for _, s in members], hyperparams=[{"learning_rate": lr} for lr, _ in members],
    runs=[OUT / f"lr{lr:g}-seed{s}" for lr, s in members], batch_size=1, sequences=int(sys.argv[2]) if len(sys.argv) > 2 else 400_000,
    target_cost=None, eval_every=1000, eval_batch=256, resume=True, progress=False,
)
for (lr, s), r in zip(members, results):
    print(f"lr {lr:g} seed {s}: {r.sequences:,} sequences, last eval {r.eval_cost:.2f}, best excess {r.best_excess:.2f}, {r.stop_reason}")
