#!/usr/bin/env bash
# The reproduction grid (REPRODUCTION.md), three seeds per cell, each NTM task and model one
# ensemble (the LSTM baseline's seeds one at a time), in the order it is run on a 2-core machine: queue "a" (the long priority-sort NTM-LSTM cell) on
# one core, queue "b" (everything else) on the other.  Resumable: run the same command again, on
# this machine or a fresh clone, and finished cells are kept while the others continue from their
# last checkpoint.  --budget is each job's training seconds in total, across sessions (an ensemble's, or one LSTM seed's).
#
#   nohup taskset -c 1 bash experiments/run_reproduction.sh a > experiments/reproduction/a.log 2>&1 &
#   nohup taskset -c 0 bash experiments/run_reproduction.sh b > experiments/reproduction/b.log 2>&1 &
#   (then queues "c" and "d", the same way: the LSTM baselines, and the NTM-FF cells)
#   ntm reproduce --out experiments/reproduction --report REPRODUCTION.md
set -uo pipefail
OUT=experiments/reproduction
mkdir -p "$OUT"
R="ntm reproduce --out $OUT --seeds 0,1,2 --ensembles --quiet"
case "${1:-}" in
  a)
    $R --tasks priority_sort --models ntm-lstm --budget 36000
    ;;
  b)
    $R --tasks copy --models ntm-ff,ntm-lstm --budget 1800
    $R --tasks associative_recall --models ntm-lstm,ntm-ff --budget 2400
    $R --tasks repeat_copy --models ntm-lstm --budget 2400
    $R --tasks priority_sort --models lstm --budget 1200
    $R --tasks dynamic_ngrams --models ntm-lstm,ntm-ff --budget 2400
    ;;
  c)  # the LSTM baselines, 10^5 sequences each (their seeds train one at a time, even with --ensembles)
    $R --tasks priority_sort --models lstm --budget 3000
    $R --tasks associative_recall,copy,dynamic_ngrams --models lstm --budget 5400
    $R --tasks repeat_copy --models lstm --budget 36000   # 5.3M parameters: for a GPU
    ;;
  d)  # the NTM-FF cells not in "b"
    $R --tasks repeat_copy --models ntm-ff --budget 7200
    $R --tasks dynamic_ngrams --models ntm-ff --budget 2400
    $R --tasks priority_sort --models ntm-ff --budget 30000  # batch 1 at lr 3e-5: several sessions
    ;;
  *)
    echo "usage: $0 a|b|c|d" >&2
    exit 2
    ;;
esac
