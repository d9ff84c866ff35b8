#!/usr/bin/env bash
# engines_sweep.sh -- what SGLang and vLLM really do against the paper's
# systems: sglang:extra_buffer and vllm:align beside sglang+, vllm+ and
# marconi, on the paper's 30 generated workloads (scripts/gen_paper_traces.sh's
# traces, SESSIONS sessions each), logical timing, hybrid-7b.
#
#   scripts/engines_sweep.sh [SESSIONS [SEED]]
#
# Writes results/engines/{chat,swe}/runs.csv (the raw sweeps), the headline
# table results/engines/table.md (mean token hit rate per workload, system
# and capacity over the workloads' sps / art settings) and the figure
# results/engines/engines.{png,svg}.  Traces go to results/tmp/ (ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
SESS=${1:-40}
SEED=${2:-1}
T=results/tmp/engine_traces
OUT=results/engines
SYS=sglang+,vllm+,marconi,sglang:extra_buffer,vllm:align
make -s build/marconi
rm -rf "$OUT/chat" "$OUT/swe" # a fresh sweep: the journal fingerprints the grid, not the binary
mkdir -p "$T" "$OUT"
build/marconi gen --paper "$T" --sessions "$SESS" --format mtrace --seed "$SEED" >/dev/null
list() { ls "$T"/$1*.mtrace | paste -sd, -; }
build/marconi sweep --trace "$(list lmsys),$(list sharegpt)" --capacity 1e9,2e9,5e9,10e9,20e9 \
    --systems "$SYS" --timing logical -j 2 -o "$OUT/chat" >/dev/null
build/marconi sweep --trace "$(list swebench)" --capacity 5e9,10e9,20e9,40e9,80e9 \
    --systems "$SYS" --timing logical -j 2 -o "$OUT/swe" >/dev/null
python3 - "$OUT" <<'PY'
import csv, sys, collections, os
out = sys.argv[1]
systems = ["vllm+", "vllm:align", "sglang+", "sglang:extra_buffer", "marconi"]
acc = collections.defaultdict(list)
for sub in ("chat", "swe"):
    for r in csv.DictReader(open(os.path.join(out, sub, "runs.csv"))):
        w = os.path.basename(r["trace"]).split("_")[0]
        acc[(w, float(r["capacity"]), r["system"])].append(float(r["token_hit_rate"]))
keys = sorted({(w, c) for (w, c, s) in acc})
with open(os.path.join(out, "table.md"), "w") as f:
    f.write("| workload | capacity | " + " | ".join(systems) + " |\n|---|---|" + "---|" * len(systems) + "\n")
    for w, c in keys:
        f.write(f"| {w} | {c/1e9:g} GB | " + " | ".join(
            "%.1f %%" % (100 * sum(acc[(w, c, s)]) / len(acc[(w, c, s)])) for s in systems) + " |\n")
    f.write("\nMean over the workload's traces (6 sps for lmsys and sharegpt, 6 sps x 3 art for swebench).\n")
with open(os.path.join(out, "fig.dat"), "w") as f:
    for w in ("lmsys", "sharegpt", "swebench"):
        f.write(f"# {w}\n")
        for ww, c in keys:
            if ww != w: continue
            f.write("%g " % (c / 1e9) + " ".join("%.4f" % (100 * sum(acc[(w, c, s)]) / len(acc[(w, c, s)])) for s in systems) + "\n")
        f.write("\n\n")
PY
for fmt in png svg; do
gnuplot -e "fmt='$fmt'; out='$OUT/engines.$fmt'; dat='$OUT/fig.dat'" scripts/fig_engines.gp
done
cat "$OUT/table.md"
