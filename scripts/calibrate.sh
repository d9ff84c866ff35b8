#!/usr/bin/env bash
# calibrate.sh -- how well a measured prefill profile predicts the live
# replay: the steps of bench/bench_replay.c, for any model, trace, capacity
# and backend.
#
#   scripts/calibrate.sh MARCONI_BIN OUTDIR
#
#   1. marconi gen ...                        -> OUTDIR/trace.jsonl (unless TRACE is given)
#   2. marconi profile --model-file M ...     -> OUTDIR/prof.csv
#   3. marconi replay TRACE --ttft-model profile:OUTDIR/prof.csv --json
#                                             -> OUTDIR/replay.json, OUTDIR/per_request.csv
#   4. print live vs profile-model prefill P50 / P95 (the same hits), their
#      relative errors (target: within 10 %), and the replay's time outside
#      executor calls (target: < 5 % of its wall time)
#
# Settings (environment; defaults are bench_replay's):
#   MODEL_FILE    a JSON model (default: OUTDIR/small-256.json, d 256, 8 layers
#                 in hybrid-7b's mix, vocab 32000, written here)
#   TRACE         an existing trace (skips step 1)
#   GEN           marconi gen arguments for step 1 (a ~200-request agent trace)
#   CAPACITY      the cache's capacity (20MB)
#   BACKEND       cpu or cuda (cpu); DTYPE fp16 or bf16 (fp16), for both steps
#   NEW, CACHED   the profile's grid (1,16,32,64,128,256,512 and 0,400,800,1200):
#                 cover the trace's uncached and hit lengths (marconi sim
#                 --per-request shows them)
#   REPS          prefills timed a grid point, median kept (5)
#   SYSTEM        the cache (marconi)
#   SEED          the weights' seed (1)
#
# Takes 3-4 minutes with the defaults on 2 CPU cores.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 MARCONI_BIN OUTDIR   (settings: see the header of $0)" >&2
    exit 2
fi
BIN=$1
OUT=$2
if [ ! -x "$BIN" ]; then
    echo "$0: $BIN is not an executable marconi" >&2
    exit 2
fi
mkdir -p "$OUT"

GEN=${GEN:-swebench --sessions 27 --seed 1 --max-tokens 1200 --system-tokens 200 --task-min 30 --task-median 60 --obs-median 40 --obs-sigma 1.0 --act-min 8 --act-median 15 --act-sigma 0.8 --max-turns 10 --keep-obs 0}
CAPACITY=${CAPACITY:-20MB}
BACKEND=${BACKEND:-cpu}
DTYPE=${DTYPE:-fp16}
NEW=${NEW:-1,16,32,64,128,256,512}
CACHED=${CACHED:-0,400,800,1200}
REPS=${REPS:-5}
SYSTEM=${SYSTEM:-marconi}
SEED=${SEED:-1}

if [ -z "${MODEL_FILE:-}" ]; then
    MODEL_FILE=$OUT/small-256.json
    cat >"$MODEL_FILE" <<'EOF'
{"name": "small-256", "n_attn": 1, "n_ssm": 3, "n_mlp": 4, "d": 256, "n": 64, "n_heads": 2, "n_kv_heads": 2, "d_ff": 1024, "vocab": 32000}
EOF
fi

if [ -z "${TRACE:-}" ]; then
    TRACE=$OUT/trace.jsonl
    echo "== marconi gen $GEN -o $TRACE"
    # shellcheck disable=SC2086  # GEN is a list of arguments
    "$BIN" gen $GEN -o "$TRACE"
fi

echo "== marconi profile --model-file $MODEL_FILE --backend $BACKEND --dtype $DTYPE --seed $SEED --new $NEW --cached $CACHED --reps $REPS -o $OUT/prof.csv"
"$BIN" profile --model-file "$MODEL_FILE" --backend "$BACKEND" --dtype "$DTYPE" --seed "$SEED" \
    --new "$NEW" --cached "$CACHED" --reps "$REPS" -o "$OUT/prof.csv"

echo "== marconi replay $TRACE --model-file $MODEL_FILE --system $SYSTEM --capacity $CAPACITY --backend $BACKEND --ttft-model profile:$OUT/prof.csv --json"
"$BIN" replay "$TRACE" --model-file "$MODEL_FILE" --system "$SYSTEM" --capacity "$CAPACITY" \
    --backend "$BACKEND" --dtype "$DTYPE" --seed "$SEED" --ttft-model "profile:$OUT/prof.csv" \
    --per-request "$OUT/per_request.csv" --json >"$OUT/replay.json"

# One number of the replay's JSON object (a flat "key": value list).
field() {
    local v
    v=$(grep -o "\"$1\": [-0-9.eE+]*" "$OUT/replay.json" | head -n 1 | sed 's/.*: //')
    if [ -z "$v" ]; then
        echo "$0: $OUT/replay.json has no number \"$1\"" >&2
        exit 1
    fi
    echo "$v"
}

awk -v lp50="$(field live_prefill_p50)" -v mp50="$(field model_prefill_p50)" \
    -v lp95="$(field live_prefill_p95)" -v mp95="$(field model_prefill_p95)" \
    -v secs="$(field seconds)" -v exec="$(field exec_seconds)" \
    -v req="$(field requests)" -v hit="$(field token_hit_rate)" -v cap="$CAPACITY" -v be="$BACKEND" '
function rel(a, b) { d = b - a; if (d < 0) d = -d; return a > 0 ? d / a : 0 }
function verdict(ok) { return ok ? "met" : "missed" }
BEGIN {
    e50 = rel(lp50, mp50); e95 = rel(lp95, mp95); over = secs > 0 ? (secs - exec) / secs : 0
    printf "\n%d requests, %.1f %% token hit rate at %s, %s executor\n\n", req, 100 * hit, cap, be
    printf "| measure | measured | target |\n|---|---|---|\n"
    printf "| prefill P50: live / profile model, same hits | %.1f ms / %.1f ms | |\n", 1e3 * lp50, 1e3 * mp50
    printf "| prefill P50 relative error | %.1f %% (%s) | within 10 %% |\n", 100 * e50, verdict(e50 <= 0.10)
    printf "| prefill P95: live / profile model, same hits | %.1f ms / %.1f ms | |\n", 1e3 * lp95, 1e3 * mp95
    printf "| prefill P95 relative error | %.1f %% (%s) | within 10 %% |\n", 100 * e95, verdict(e95 <= 0.10)
    printf "| replay time outside executor calls | %.2f %% of %.1f s (%s) | < 5 %% |\n", 100 * over, secs, verdict(over < 0.05)
}'
echo
echo "files: $OUT/prof.csv, $OUT/replay.json, $OUT/per_request.csv (per-request live times; marconi sim --per-request"
echo "       with the same --ttft-model writes the profile's times for the same rows)"
