#!/usr/bin/env bash
# Run every fuzz target in turn for a fixed time and print one line per target:
# target, seconds, executions (libFuzzer's "Done N runs"), result.
# Usage (from fuzz/): ./run_all.sh [seconds for the decoders] [seconds for the live targets]
# Seeds first: python3 seed_corpus.py
set -u
short=${1:-60}
long=${2:-180}
mkdir -p logs
for t in $(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v canopy-fuzz); do
  case $t in process_live|join_live|process_resigned) secs=$long ;; *) secs=$short ;; esac
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" -- -max_total_time="$secs" -print_final_stats=1 \
    >"logs/$t.log" 2>&1
  rc=$?
  runs=$(grep -o 'Done [0-9]* runs' "logs/$t.log" | grep -o '[0-9]*' | tail -1)
  result=ok; [ $rc -ne 0 ] && result="FAILED (exit $rc, see logs/$t.log)"
  echo "$t $secs ${runs:-?} $result"
done
