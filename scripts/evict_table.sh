#!/bin/sh
# evict_table.sh -- every eviction policy under judicious admission on the
# three generated workloads at two capacities each, logical timing: token
# hit rate, FLOPs saved and evictions, as a markdown table on stdout (the
# "Eviction policies" section of results/README.md).
#
#   scripts/evict_table.sh [BIN] [SESSIONS]     (build/marconi, 100)
#
# Traces go to a temporary folder, removed at the end.  flop runs as the
# marconi preset (alpha tuned online); every other policy as sglang+ (judicious
# admission) with --eviction.
set -eu
BIN=${1:-build/marconi}
SESSIONS=${2:-100}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/evict_table.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
POLICIES="lru flop seglen gdsf lfu slru fifo priority mru filo"
for w in swebench lmsys sharegpt; do
    "$BIN" gen "$w" --sessions "$SESSIONS" -o "$DIR/$w.mtrace"
done
run() { # workload capacity policy -> one JSON line
    if [ "$3" = flop ]; then set -- "$1" "$2" "$3" --system marconi
    else set -- "$1" "$2" "$3" --system sglang+ --eviction "$3"; fi
    w=$1 cap=$2
    shift 3
    "$BIN" sim "$DIR/$w.mtrace" "$@" --capacity "$cap" --timing logical --threads 2 --json
}
for spec in swebench:4e10 swebench:1e11 lmsys:2e9 lmsys:5e9 sharegpt:2e9 sharegpt:1e10; do
    w=${spec%%:*} cap=${spec#*:}
    for p in $POLICIES; do
        run "$w" "$cap" "$p" | sed "s/^{/{\"workload\": \"$w\", /"
    done
done > "$DIR/rows.jsonl"
python3 - "$DIR/rows.jsonl" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
base = {(r["workload"], r["capacity"]): r for r in rows if r["eviction"] == "lru"}
print("| workload | capacity | eviction | token hit rate | FLOPs saved | vs lru | evictions: leaves / intermediate |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    b = base[(r["workload"], r["capacity"])]
    name = r["eviction"] + (" (α tuned: %g)" % r["final_alpha"] if r["eviction"] == "flop" else "")
    print("| %s | %g GB | %s | %.2f %% | %.4g | %+.1f %% | %d / %d |" % (
        r["workload"], r["capacity"] / 1e9, name, 100 * r["token_hit_rate"], r["flops_saved"],
        100 * (r["flops_saved"] / b["flops_saved"] - 1), r["evicted_leaves"], r["evicted_intermediate"]))
EOF
