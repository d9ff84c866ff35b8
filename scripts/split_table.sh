#!/bin/sh
# split_table.sh -- joint against split eviction (--evict-split): lru, flop
# (marconi-static, alpha fixed at 0.5) and gdsf under judicious admission, on
# the three generated workloads at two capacities each, logical timing:
# token hit rate, FLOPs saved and tombstones, as a markdown table on stdout
# (the "Split eviction" section of results/README.md).
#
#   scripts/split_table.sh [BIN] [SESSIONS]     (build/marconi, 100)
#
# Traces go to a temporary folder, removed at the end.
set -eu
BIN=${1:-build/marconi}
SESSIONS=${2:-100}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/split_table.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
for w in swebench lmsys sharegpt; do
    "$BIN" gen "$w" --sessions "$SESSIONS" -o "$DIR/$w.mtrace"
done
for spec in swebench:4e10 swebench:1e11 lmsys:2e9 lmsys:5e9 sharegpt:2e9 sharegpt:1e10; do
    w=${spec%%:*} cap=${spec#*:}
    for p in lru flop gdsf; do
        for split in "" --evict-split; do
            "$BIN" sim "$DIR/$w.mtrace" --system marconi-static --alpha 0.5 --eviction "$p" $split \
                --capacity "$cap" --timing logical --json | sed "s/^{/{\"workload\": \"$w\", /"
        done
    done
done > "$DIR/rows.jsonl"
python3 - "$DIR/rows.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
key = lambda r: (r["workload"], r["capacity"], r["eviction"])
joint = {key(r): r for r in rows if not r.get("evict_split")}
print("| workload | capacity | eviction | token hit rate joint / split | FLOPs saved joint / split | split vs joint | intermediate states joint / split (tombstones) |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    if not r.get("evict_split"):
        continue
    j = joint[key(r)]
    name = r["eviction"] + (" (α 0.5)" if r["eviction"] == "flop" else "")
    print("| %s | %g GB | %s | %.2f / %.2f %% | %.4g / %.4g | %+.1f %% | %d / %d (%d) |" % (
        r["workload"], r["capacity"] / 1e9, name, 100 * j["token_hit_rate"], 100 * r["token_hit_rate"],
        j["flops_saved"], r["flops_saved"], 100 * (r["flops_saved"] / j["flops_saved"] - 1),
        j["evicted_intermediate"], r["evicted_intermediate"], r["evicted_tombstones"]))
PY
