#!/usr/bin/env bash
# The measurements of docs/recipes.md's stability, repeat-copy and recall sections, in order;
# each is an ntm sweep, so running this again continues where it stopped.
set -u
cd "$(dirname "$0")/.."
ntm sweep copy --lr 3e-4 --seeds 0-7 --sequences 100000 --target-cost none --eval-every 1000 \
    --out experiments/stability-copy-ntm-ff --quiet
ntm sweep repeat_copy --model ntm-lstm --set optimizer=rmsprop --set batch_size=1 --lr 3e-4,1e-3 --seeds 0-4 \
    --sequences 50000 --target-cost 0.1 --eval-every 1000 --out experiments/repeat-copy-ntm-lstm --quiet
ntm sweep associative_recall --model ntm-lstm --set optimizer=rmsprop --set batch_size=1 --lr 3e-4,1e-3 \
    --set model.memory_init=learned --set model.memory_init_std=0.05 --seeds 0-4 --sequences 30000 \
    --eval-every 500 --out experiments/recall-ntm-lstm-learned-memory --quiet
