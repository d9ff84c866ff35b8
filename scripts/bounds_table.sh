#!/usr/bin/env bash
# bounds_table.sh -- the gap between the online systems and the offline
# bounds (docs/bounds.md) for the paper's three workloads, generated at the
# paper's size (100 sessions, 1 session/s; SWE-bench 7.5 s between turns),
# at three capacities each, in the logical replay.  Prints a Markdown table:
# token hit rate and FLOPs saved of sglang+, marconi, belady (feasible,
# offline) and the upper bound.
#
#   scripts/bounds_table.sh [DIR]      (traces go to DIR, default /tmp/marconi-bounds)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/tmp/marconi-bounds}
BIN=${BIN:-build/marconi}
mkdir -p "$DIR"
"$BIN" gen lmsys --sessions 100 --sps 1 --seed 1 -o "$DIR/lmsys.jsonl"
"$BIN" gen sharegpt --sessions 100 --sps 1 --seed 1 -o "$DIR/sharegpt.jsonl"
"$BIN" gen swebench --sessions 100 --sps 1 --art 7.5 --seed 1 -o "$DIR/swebench.jsonl"
caps_lmsys="1e9 3e9 5e9"
caps_sharegpt="1e9 3e9 1e10"
caps_swebench="4e10 6e10 1e11"
echo "| workload | capacity | sglang+ | marconi | belady | bound | FLOPs saved: sglang+ | marconi | belady | bound |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for w in lmsys sharegpt swebench; do
  eval caps=\$caps_$w
  for c in $caps; do
    s=$("$BIN" sim "$DIR/$w.jsonl" --timing logical --system sglang+ --capacity "$c" --bound --json)
    m=$("$BIN" sim "$DIR/$w.jsonl" --timing logical --system marconi --capacity "$c" --threads 2 --json)
    python3 - "$w" "$c" "$s" "$m" <<'PY'
import json, sys
w, c, s, m = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
pct = lambda x: "%.1f%%" % (100 * x)
pf = lambda x: "%.3g" % float(x)
print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (w, c,
      pct(s["token_hit_rate"]), pct(m["token_hit_rate"]), pct(s["belady_token_hit_rate"]), pct(s["bound_token_hit_rate"]),
      pf(s["flops_saved"]), pf(m["flops_saved"]), pf(s["belady_flops_saved"]), pf(s["bound_flops_saved"])))
PY
  done
done
