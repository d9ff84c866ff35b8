#!/usr/bin/env bash
# policy_table.sh -- every eviction policy beside the offline bound, with its
# miss classes (docs/explain.md, docs/bounds.md), on the paper's three
# generated workloads (100 sessions, 1 session/s; SWE-bench 7.5 s between
# turns) and, when given, the real SWE-bench trace of scripts/real_traces.sh.
# Logical replay, judicious admission, one capacity per trace.  Prints a
# Markdown table: token hit rate, FLOPs saved, then the uncached input tokens
# by class (compulsory, admission, capacity, alignment; in flight is 0 in
# the logical replay).
#
#   scripts/policy_table.sh [DIR] [REAL_SWEBENCH_TRACE]
#       traces go to DIR (default /tmp/marconi-policies)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/tmp/marconi-policies}
REAL=${2:-}
BIN=${BIN:-build/marconi}
mkdir -p "$DIR"
"$BIN" gen lmsys --sessions 100 --sps 1 --seed 1 -o "$DIR/lmsys.jsonl"
"$BIN" gen sharegpt --sessions 100 --sps 1 --seed 1 -o "$DIR/sharegpt.jsonl"
"$BIN" gen swebench --sessions 100 --sps 1 --art 7.5 --seed 1 -o "$DIR/swebench.jsonl"
runs="$DIR/lmsys.jsonl:3e9 $DIR/sharegpt.jsonl:3e9 $DIR/swebench.jsonl:6e10"
[ -n "$REAL" ] && runs="$runs $REAL:4e10"
# policy label : sim options
pols=("lru (sglang+):--system sglang+"
      "flop (marconi, alpha online):--system marconi --threads 2"
      "gdsf:--system sglang+ --eviction gdsf"
      "seglen 0.85:--system sglang+ --eviction seglen"
      "lfu:--system sglang+ --eviction lfu"
      "slru:--system sglang+ --eviction slru"
      "belady (offline):--system sglang+ --eviction belady")
echo "| trace | capacity | policy | token hit | FLOPs saved | compulsory | admission | capacity | alignment |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in $runs; do
  t=${r%:*}
  c=${r##*:}
  for p in "${pols[@]}"; do
    label=${p%%:*}
    # shellcheck disable=SC2086
    j=$("$BIN" sim "$t" --timing logical --capacity "$c" ${p#*:} --json)
    python3 - "$(basename "$t")" "$c" "$label" "$j" <<'PY'
import json, sys
t, c, label, j = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
m = j["misses"]
print("| %s | %s | %s | %.1f%% | %.3g | %d | %d | %d | %d |" % (t, c, label, 100 * j["token_hit_rate"],
      float(j["flops_saved"]), m["compulsory"], m["admission"], m["capacity"], m["alignment"]))
PY
  done
  j=$("$BIN" sim "$t" --timing logical --capacity "$c" --system sglang+ --bound --json)
  python3 - "$(basename "$t")" "$c" "$j" <<'PY'
import json, sys
t, c, j = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
print("| %s | %s | **upper bound** | %.1f%% | %.3g | | | | |" % (t, c, 100 * j["bound_token_hit_rate"],
      float(j["bound_flops_saved"])))
PY
done
