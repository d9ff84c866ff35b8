#!/bin/sh
# split_table.sh -- joint against split eviction (--evict-split): lru, flop
# (marconi-static, alpha fixed at 0.5) and gdsf under judicious admission, on
# the three generated workloads at two capacities each, logical timing:
# token hit rate, FLOPs saved and tombstones, as a markdown table on stdout
# (the "Split eviction" section of results/README.md).  A third run per row
# splits the capacity into two pools as SGLang's default
# --mamba-full-memory-ratio 0.9 does (KV C/1.9, states 0.9 C/1.9).
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
        for split in "" --evict-split pools; do
            if [ "$split" = pools ]; then
                set -- --evict-split --kv-capacity "$(python3 -c "print($cap / 1.9)")" \
                    --state-capacity "$(python3 -c "print($cap * 0.9 / 1.9)")"
            else
                set -- $split --capacity "$cap"
            fi
            "$BIN" sim "$DIR/$w.mtrace" --system marconi-static --alpha 0.5 --eviction "$p" "$@" \
                --timing logical --json | sed "s/^{/{\"workload\": \"$w\", \"cap\": $cap, /"
        done
    done
done > "$DIR/rows.jsonl"
python3 - "$DIR/rows.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
key = lambda r: (r["workload"], r["cap"], r["eviction"])
joint = {key(r): r for r in rows if not r.get("evict_split")}
pools = {key(r): r for r in rows if "state_capacity" in r}
print("| workload | capacity | eviction | token hit rate joint / split / pools | FLOPs saved joint / split / pools | split, pools vs joint | intermediate states joint / split (tombstones) / pools (tombstones) |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    if not r.get("evict_split") or "state_capacity" in r:
        continue
    j, p = joint[key(r)], pools[key(r)]
    name = r["eviction"] + (" (α 0.5)" if r["eviction"] == "flop" else "")
    print("| %s | %g GB | %s | %.2f / %.2f / %.2f %% | %.4g / %.4g / %.4g | %+.1f %%, %+.1f %% | %d / %d (%d) / %d (%d) |" % (
        r["workload"], r["cap"] / 1e9, name, 100 * j["token_hit_rate"], 100 * r["token_hit_rate"], 100 * p["token_hit_rate"],
        j["flops_saved"], r["flops_saved"], p["flops_saved"], 100 * (r["flops_saved"] / j["flops_saved"] - 1),
        100 * (p["flops_saved"] / j["flops_saved"] - 1), j["evicted_intermediate"], r["evicted_intermediate"],
        r["evicted_tombstones"], p["evicted_intermediate"], p["evicted_tombstones"]))
PY
