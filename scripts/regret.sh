#!/usr/bin/env bash
# regret.sh -- the regret table: for each trace and capacity, token hit rate
# and FLOPs saved of sglang+ (LRU), each of marconi's tuners, and the best
# static alpha in hindsight (marconi-static over the 21-point grid 0..2.0,
# most FLOPs saved), all in logical timing.
#
#   scripts/regret.sh OUT.tsv TRACE:CAP[,CAP...] [TRACE:CAP...]
#   scripts/regret.sh --from OUT.tsv      (the table and OUT.dat again, no runs)
#
# Writes OUT.tsv (one row per trace, capacity and system: trace, capacity,
# system, token hit rate, FLOPs saved, final alpha, tune seconds, replay
# seconds), OUT.dat (per trace and capacity: FLOPs saved of LRU and each
# tuner relative to the best static alpha, in %, for scripts/regret.gp),
# and prints the table in Markdown: each tuner's token hit rate (its
# difference from LRU's) and FLOPs saved relative to the best static alpha.  TUNERS (default "once retune
# shadow bandit") and THREADS (default 1) may be set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
M=${M:-build/marconi}
TUNERS=${TUNERS:-once retune shadow bandit}
THREADS=${THREADS:-1}
from=0
if [ "${1:-}" = --from ]; then from=1; shift; fi
OUT=$1; shift
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
if [ $from = 0 ]; then
make -s build/marconi
row() { # trace cap label json
    python3 -c 'import json,sys; d=json.load(sys.stdin); print("\t".join([sys.argv[1],sys.argv[2],sys.argv[3],repr(d["token_hit_rate"]),str(d["flops_saved"]),str(d.get("final_alpha","")),repr(d.get("tune_seconds",0)),repr(d.get("seconds",0))]))' "$1" "$2" "$3"
}
for spec in "$@"; do
    trace=${spec%%:*}
    for cap in ${spec#*:}; do :; done
    IFS=, read -ra caps <<<"${spec#*:}"
    for cap in "${caps[@]}"; do
        sim() { "$M" sim "$trace" --capacity "$cap" --timing logical --threads "$THREADS" --json "$@"; }
        sim --system sglang+ | row "$trace" "$cap" sglang+ >>"$tmp"
        for t in $TUNERS; do sim --system marconi --tuner "$t" | row "$trace" "$cap" "marconi/$t" >>"$tmp"; done
        for i in $(seq 0 20); do
            a=$(python3 -c "print($i/10)")
            sim --system marconi-static --alpha "$a" | row "$trace" "$cap" "static/$a" >>"$tmp"
        done
    done
done
cp "$tmp" "$OUT"
fi
python3 - "$OUT" "$TUNERS" <<'PY'
import sys, collections
rows = collections.OrderedDict()
for line in open(sys.argv[1]):
    tr, cap, sysname, thr, fl, alpha, ts, secs = line.rstrip("\n").split("\t")
    rows.setdefault((tr, cap), {})[sysname] = (float(thr), int(fl), alpha, float(ts), float(secs))
tuners = sys.argv[2].split()
dat = open(sys.argv[1][:-4] + ".dat" if sys.argv[1].endswith(".tsv") else sys.argv[1] + ".dat", "w")
dat.write("config sglang+ " + " ".join(tuners) + "\n")
print("| trace | capacity | LRU hit | best static α: hit, FLOPs | " +
      " | ".join(f"{t}: hit, FLOPs vs best (α end)" for t in tuners) + " |")
print("|---|---|---|---|" + "---|" * len(tuners))
for (tr, cap), r in rows.items():
    lru = r["sglang+"]
    best = max((v for k, v in r.items() if k.startswith("static/")), key=lambda v: v[1])
    ba = [k for k, v in r.items() if k.startswith("static/") and v is best][0][7:]
    cells = []
    for t in tuners:
        v = r["marconi/" + t]
        cells.append(f"{100*v[0]:.1f} % ({100*(v[0]-lru[0]):+.1f}), {100*(v[1]/best[1]-1) if best[1] else 0:+.1f} % (α {v[2]})")
    name = tr.split("/")[-1]
    rel = lambda v: 100 * (v[1] / best[1] - 1) if best[1] else 0
    dat.write(f"{name.split('.')[0]}/{cap} {rel(lru):.3f} " + " ".join(f"{rel(r['marconi/' + t]):.3f}" for t in tuners) + "\n")
    print(f"| {name} | {cap} | {100*lru[0]:.1f} % | {100*best[0]:.1f} %, {best[1]:.3g} (α {ba}) | " + " | ".join(cells) + " |")
PY
