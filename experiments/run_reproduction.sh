#!/usr/bin/env bash
# The reproduction grid (REPRODUCTION.md), three seeds per cell, each task and model one ensemble,
# in the order it is run on a 2-core machine: queue "a" (the long priority-sort NTM-LSTM cell) on
# one core, queue "b" (everything else) on the other.  Resumable: run the same command again, on
# this machine or a fresh clone, and finished cells are kept while the others continue from their
# last checkpoint.  --budget is each ensemble's training seconds in total, across sessions.
#
#   nohup taskset -c 1 bash experiments/run_reproduction.sh a > experiments/reproduction/a.log 2>&1 &
#   nohup taskset -c 0 bash experiments/run_reproduction.sh b > experiments/reproduction/b.log 2>&1 &
#   (then queue "c", the rest)
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
  c)  # the LSTM baselines of 10^6-parameter models, and the slow NTM-FF cells: for a GPU, or later sessions
    $R --tasks associative_recall,copy,dynamic_ngrams,repeat_copy --models lstm --budget 3600
    $R --tasks repeat_copy,priority_sort --models ntm-ff --budget 7200
    ;;
  *)
    echo "usage: $0 a|b|c" >&2
    exit 2
    ;;
esac
