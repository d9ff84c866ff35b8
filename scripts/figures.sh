#!/usr/bin/env bash
# figures.sh -- regenerate this project's version of the paper's figures
# from nothing: generate the workloads, run the sweeps, derive the tables,
# draw PNG and SVG with gnuplot.  `make figures` runs it.
#
#   scripts/figures.sh [OUT]       (default OUT=results)
#
# Environment: JOBS (threads, default all cores), SESSIONS (per trace,
# default 100 as in the paper), STATIC=0 to skip the 21-point static-alpha
# sweep (the "oracle" line), SKIP_SWEEPS=1 to redraw from existing data,
# TUNER (marconi's, default once: the paper's tuner, as these figures
# reproduce the paper; the adaptive default is compared in scripts/regret.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-results}
BIN=${BIN:-build/marconi}
JOBS=${JOBS:-$(nproc)}
S=${SESSIONS:-100}
STATIC=${STATIC:-1}
TUNER=${TUNER:-once}
DATA=$OUT/data
FIG=$OUT/figures

if ! command -v gnuplot >/dev/null; then
  echo "marconi: figures: gnuplot is missing: apt-get install gnuplot-nox (or gnuplot)" >&2
  exit 2
fi
if ! command -v python3 >/dev/null; then
  echo "marconi: figures: python3 is missing: apt-get install python3" >&2
  exit 2
fi
[ -x "$BIN" ] || make -s "$BIN"
mkdir -p "$DATA" "$FIG/data"

SPS=0.25,0.5,1,2,5,10
SYS=vllm+,sglang+,marconi
[ "$STATIC" = 1 ] && SYS=$SYS,marconi-static
t0=$(date +%s)
# TTFT: the artifact's measured Jamba-1.5-Mini prefill profile (no queueing in
# the paper's numbers: figdata compares prefill time, and reports queueing too)
TTFT=${TTFT:-jamba-a100}
sweep() { # name, then sweep arguments
  local name=$1; shift
  local s=$(date +%s)
  "$BIN" sweep -j "$JOBS" -o "$DATA/$name" --ttft-model "$TTFT" --tuner "$TUNER" "$@"
  echo "figures: $name: $(( $(date +%s) - s )) s" >&2
}
if [ "${SKIP_SWEEPS:-0}" != 1 ]; then
  # The paper's grid (artifact policy_exploration.py): Figs 7, 8, 9, 10, 13.
  # LMSys uses a 15x tuner window, as the artifact does.
  sweep lmsys    --trace "lmsys:sessions=$S,sps=$SPS" --capacity 1e9,2e9,3e9,4e9,5e9 --systems $SYS --bootstrap 15
  sweep sharegpt --trace "sharegpt:sessions=$S,sps=$SPS" --capacity 1e9,2e9,3e9,4e9,5e9,1e10 --systems $SYS
  sweep swebench --trace "swebench:sessions=$S,sps=$SPS,art=5,7.5,10" --capacity 4e10,6e10,8e10,1e11 --systems $SYS \
                 --buckets 0,2000,4000,7000,10000,15000,20000,inf
  # Fig. 3a: how much of what vLLM+ caches is ever reused, by block size.
  sweep reuse    --trace "lmsys:sessions=$S,sps=0.5" --capacity 5e9 --systems vllm+,sglang+,marconi \
                 --block-size 32,64,128 --bootstrap 15
  # Fig. 11: contention (SWE-bench, 5 sessions/s, 10 s between turns).
  sweep contention --trace "swebench:sessions=$S,sps=5,art=10" --capacity 6e10,8e10,1e11,1.2e11,1.4e11 \
                 --systems sglang+,marconi
  # Fig. 12: layer composition and state size (SWE-bench, 1 session/s, 7.5 s, 60 GB).
  sweep layers   --trace "swebench:sessions=$S,sps=1,art=7.5" --capacity 6e10 --systems vllm+,sglang+,marconi \
                 --model scripts/models/mix-32-4.json,scripts/models/mix-30-5.json,scripts/models/mix-28-7.json,scripts/models/mix-24-12.json,scripts/models/mix-0-36.json
  sweep dstate   --trace "swebench:sessions=$S,sps=1,art=7.5" --capacity 6e10 --systems vllm+,sglang+,marconi \
                 --model scripts/models/state-128.json,scripts/models/state-64.json,scripts/models/state-32.json,scripts/models/state-16.json
  # Fig. 5: FLOP efficiency by sequence length and layer mix.
  "$BIN" model --csv --lengths 1,10,100,300,1000,3000,10000,30000 \
    --model-file scripts/models/mix-32-4.json --model-file scripts/models/mix-30-5.json \
    --model-file scripts/models/mix-28-7.json --model-file scripts/models/mix-24-12.json \
    --model-file scripts/models/mix-0-36.json > "$DATA/efficiency.csv.tmp"
  mv "$DATA/efficiency.csv.tmp" "$DATA/efficiency.csv"
fi
python3 scripts/figdata.py "$DATA" "$FIG/data" > "$OUT/summary.md.tmp"
mv "$OUT/summary.md.tmp" "$OUT/summary.md"
for gp in scripts/fig[0-9]*.gp; do
  gnuplot -e "data='$FIG/data'; out='$FIG'" "$gp"
done
echo "figures: done in $(( $(date +%s) - t0 )) s -> $FIG, $OUT/summary.md" >&2
