#!/usr/bin/env bash
# replay_check.sh -- does the live replay hit exactly what the simulation
# hits?  Runs `marconi sim --timing logical` and `marconi replay` on the same
# trace and options, each with --per-request, and compares the hits request
# by request; prints the first divergence, if any.
#
#   scripts/replay_check.sh [-b BIN] TRACE [options for both...]
#   e.g. scripts/replay_check.sh t.jsonl --model-file tiny32k.json --capacity 200KB --system marconi
#
# Options after TRACE go to both commands (replay-only ones, such as
# --backend cuda or --check-equivalence K, go to the replay alone when given
# after a literal --).  Exit status: 0 equal, 1 a divergence, 2 a command
# failed.
set -euo pipefail
bin=build/marconi
if [ "${1:-}" = -b ]; then bin=$2; shift 2; fi
[ $# -ge 1 ] || { sed -n 2,13p "$0" >&2; exit 2; }
trace=$1; shift
both=(); live=()
while [ $# -gt 0 ]; do
  if [ "$1" = -- ]; then shift; live=("$@"); break; fi
  both+=("$1"); shift
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/replay_check.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$bin" sim "$trace" --timing logical "${both[@]}" --per-request "$tmp/sim.csv" >"$tmp/sim.txt" || exit 2
"$bin" replay "$trace" "${both[@]}" "${live[@]}" --per-request "$tmp/live.csv" >"$tmp/live.txt" || exit 2
# index,session_id,turn_id,input_tokens,hit_tokens: the first five columns
if first=$(paste -d'|' <(cut -d, -f1-5 "$tmp/sim.csv") <(cut -d, -f1-5 "$tmp/live.csv") |
           awk -F'|' 'NR > 1 && $1 != $2 { print; exit 1 }'); then
  n=$(($(wc -l <"$tmp/sim.csv") - 1))
  echo "equal: $n requests hit the same in the replay as in the simulation"
  grep -E '^(token hit rate|equivalence|TTFT measured|overhead)' "$tmp/live.txt" || true
else
  echo "first divergence (index,session,turn,input,hit: simulated | live):"
  echo "  $first"
  exit 1
fi
