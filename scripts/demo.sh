#!/usr/bin/env bash
# demo.sh -- `make demo`: install what is missing, build, generate LMSys-,
# ShareGPT- and SWE-bench-like workloads (no files to fetch), and show the
# four systems side by side on each.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v cc >/dev/null || need+=(build-essential)
for p in libjansson-dev zlib1g-dev libcmocka-dev; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ((${#need[@]})); then
  if ! command -v apt-get >/dev/null; then
    echo "marconi: demo: please install: ${need[*]} (a C compiler, jansson, zlib, cmocka)" >&2
    exit 2
  fi
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "demo: installing ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null >/dev/null
fi
make -s -j"$(nproc)" build/marconi

OUT=${OUT:-results/demo}
mkdir -p "$OUT"
M=build/marconi
# field NAME JSON -> the first value of "NAME": in a one-line JSON object
# (the run's own fields come before the buckets and tuner scores)
field() { grep -o "\"$1\": [^,}]*" <<<"$2" | head -n 1 | sed 's/.*: //'; }

run() { # label, spec, capacity, extra sim options
  local label=$1 spec=$2 cap=$3; shift 3
  local trace="$OUT/${spec%%:*}.mtrace"  # packed: written and read in a blink
  "$M" gen "${spec%%:*}" $(tr ',' '\n' <<<"${spec#*:}" | sed 's/^/--/; s/=/ /') -o "$trace" >/dev/null
  echo
  echo "== $label: $("$M" stats "$trace" --json | sed -n 's/.*"requests": \([0-9]*\).*"sessions": \([0-9]*\).*/\1 requests, \2 sessions/p'), cache $cap =="
  printf "%-16s %10s %12s %12s %14s %14s %8s\n" system "token hit" "request hit" "FLOPs saved" "P95 TTFT (s)" "no cache (s)" alpha
  for sys in vllm+ sglang+ marconi marconi-static; do
    local j
    local alpha=0; [ "$sys" = marconi-static ] && alpha=1
    j=$("$M" sim "$trace" --system "$sys" --capacity "$cap" --alpha "$alpha" --json "$@")
    printf "%-16s %9.2f%% %11.2f%% %12.3g %14.3f %14.3f %8s\n" "$sys" \
      "$(awk "BEGIN{print 100*$(field token_hit_rate "$j")}")" "$(awk "BEGIN{print 100*$(field request_hit_rate "$j")}")" \
      "$(field flops_saved "$j")" "$(field ttft_p95 "$j")" "$(field vanilla_ttft_p95 "$j")" "$(field final_alpha "$j")"
  done
}

echo "marconi demo: discrete-event replays (H100 roofline, 8 GPUs) of generated workloads; traces in $OUT/"
run "LMSys-like chat" "lmsys:sessions=100,sps=1,seed=1" 3GB --gpus 8
run "ShareGPT-like chat" "sharegpt:sessions=100,sps=1,seed=1" 3GB --gpus 8
run "SWE-bench-like agent" "swebench:sessions=100,sps=1,art=7.5,seed=1" 60GB --gpus 8
echo
echo "marconi-static runs at alpha 1; marconi tunes alpha online.  More: marconi sim --help, marconi sweep --help."
