#!/usr/bin/env bash
# real_traces.sh -- the real-trace suite, built from public data you fetched.
#
#   scripts/real_traces.sh -o OUTDIR [--swe DIR] [--sharegpt FILE] [--mooncake DIR]
#
# Each input may also come from the environment (SWE_TRAJS, SHAREGPT_JSON,
# MOONCAKE_TRACES); the marconi binary is $MARCONI (default build/marconi).
# An input not given is skipped, with a word.  Where the data comes from:
#
#   --swe DIR       mini-swe-agent's SWE-bench Verified trajectories: GitHub
#                   gruckion/mini-swe-agent, folder
#                   swebench_results/20251118_gemini-3-pro-74pct/trajs
#                   (500 folders, one NAME/NAME.traj.json each)
#   --sharegpt FILE a ShareGPT-format file: lm-sys/FastChat's
#                   data/dummy_conversation.json
#   --mooncake DIR  kvcache-ai/Mooncake's FAST25-release/traces/
#                   (conversation_trace.jsonl, synthetic_trace.jsonl)
#
# What it writes into OUTDIR (each file under a temporary name, renamed
# into place by marconi, so a failure leaves no half-written trace):
#
#   swebench-real.jsonl, .mtrace   the first 100 trajectories of DIR in
#       sorted path order (LC_ALL=C sort of the *.traj.json paths), by the
#       artifact's SWE-bench rules: session k starts at k s (1 session/s),
#       Poisson gaps of mean 7.5 s between turns, a session stops before the
#       turn whose input passes 32,768 tokens or after 51 turns, an
#       observation leaves the history 5 turns later; role and content of
#       each message (mini-swe-agent's default)
#   sharegpt-fastchat.jsonl, .mtrace   every conversation (--min-turns 1)
#   mooncake-conversation.mtrace, mooncake-synthetic.mtrace   Mooncake's
#       traces, hash blocks expanded to tokens (marconi convert --help)
#   stats.txt     marconi stats of each trace
#   README.txt    what each file is and the command that made it
#   READY         touched last, once everything above is in place
set -euo pipefail

usage() { sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; }
out="" swe="${SWE_TRAJS:-}" sg="${SHAREGPT_JSON:-}" mc="${MOONCAKE_TRACES:-}"
M="${MARCONI:-build/marconi}"
while [ $# -gt 0 ]; do
  case "$1" in
    -o|--output) out="${2:?-o needs a folder}"; shift 2 ;;
    --swe) swe="${2:?--swe needs a folder}"; shift 2 ;;
    --sharegpt) sg="${2:?--sharegpt needs a file}"; shift 2 ;;
    --mooncake) mc="${2:?--mooncake needs a folder}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "real_traces.sh: unknown argument '$1' (--help)" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || { echo "real_traces.sh: -o OUTDIR is required (--help)" >&2; exit 2; }
[ -x "$M" ] || { echo "real_traces.sh: no marconi binary at $M (make, or set MARCONI)" >&2; exit 2; }
[ -n "$swe$sg$mc" ] || { echo "real_traces.sh: no input given (--swe, --sharegpt, --mooncake; --help)" >&2; exit 2; }
mkdir -p "$out"
rm -f "$out/READY"
export LC_ALL=C
readme="$out/README.txt.tmp"
traces=()
{
  echo "The real-trace suite (scripts/real_traces.sh; docs/traces.md)."
  rev="$(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || true)"
  echo "Built $(date -u +%Y-%m-%dT%H:%MZ) by $("$M" --version 2>/dev/null || echo marconi)${rev:+ (commit $rev)}."
  echo "Made by: scripts/real_traces.sh -o $out${swe:+ --swe $swe}${sg:+ --sharegpt $sg}${mc:+ --mooncake $mc}"
  echo
} >"$readme"

# run CMD...: print it, record it in README.txt, run it
run() {
  echo "+ $*" >&2
  echo "    $*" >>"$readme"
  "$@"
}

if [ -n "$swe" ]; then
  [ -d "$swe" ] || { echo "real_traces.sh: --swe $swe is not a folder" >&2; exit 2; }
  {
    echo "swebench-real.jsonl, swebench-real.mtrace (the same trace, JSONL and packed):"
    echo "  the first 100 mini-swe-agent trajectories under $swe in sorted path order"
    echo "  (first: $(find "$swe" -name '*.traj.json' | sort | head -1 | xargs -r basename);"
    echo "   last: $(find "$swe" -name '*.traj.json' | sort | sed -n 100p | xargs -r basename)),"
    echo "  by the artifact's SWE-bench rules: 1 session/s, Poisson 7.5 s between turns,"
    echo "  32,768-token cap, 51 turns, observations dropped 5 turns later; each message"
    echo "  as json.dumps of its role and content (extra dropped), builtin tokenizer."
  } >>"$readme"
  run "$M" convert agent "$swe" --sessions 100 --sps 1 --art 7.5 --max-tokens 32768 --max-turns 51 \
    --keep-obs 5 --seed 1 -o "$out/swebench-real.jsonl"
  run "$M" pack "$out/swebench-real.jsonl" -o "$out/swebench-real.mtrace"
  traces+=("$out/swebench-real.mtrace")
  echo >>"$readme"
fi
if [ -n "$sg" ]; then
  [ -f "$sg" ] || { echo "real_traces.sh: --sharegpt $sg is not a file" >&2; exit 2; }
  {
    echo "sharegpt-fastchat.jsonl, sharegpt-fastchat.mtrace: every conversation of $sg"
    echo "  (ShareGPT format; --min-turns 1, as its conversations are 1-3 rounds), 1 session/s,"
    echo "  turns after typing the user message at 90 words/min, 32,768-token cap."
  } >>"$readme"
  run "$M" convert sharegpt "$sg" --min-turns 1 --sps 1 -o "$out/sharegpt-fastchat.jsonl"
  run "$M" pack "$out/sharegpt-fastchat.jsonl" -o "$out/sharegpt-fastchat.mtrace"
  traces+=("$out/sharegpt-fastchat.mtrace")
  echo >>"$readme"
fi
if [ -n "$mc" ]; then
  [ -d "$mc" ] || { echo "real_traces.sh: --mooncake $mc is not a folder" >&2; exit 2; }
  for kind in conversation synthetic; do
    f="$mc/${kind}_trace.jsonl"
    if [ ! -f "$f" ]; then echo "real_traces.sh: no $f: skipped" >&2; continue; fi
    {
      echo "mooncake-$kind.mtrace: Mooncake's $kind trace ($f), every request;"
      echo "  each hash id a block of 512 token IDs (the same hash, the same tokens), the last"
      echo "  block cut to input_length, outputs fresh tokens, ts = timestamp / 1000; a request"
      echo "  continues the session of an earlier one whose full blocks (>= 2) begin its"
      echo "  hash_ids and whose input + output fit in its input.  Inputs are as long as"
      echo "  Kimi's (no 32K cap: up to ~190K tokens).  Packed only (the JSONL would be"
      echo "  0.4-1 GB); every marconi command reads it."
    } >>"$readme"
    run "$M" convert mooncake "$f" -o "$out/mooncake-$kind.mtrace"
    traces+=("$out/mooncake-$kind.mtrace")
    echo >>"$readme"
  done
fi
echo "+ $M stats ... > $out/stats.txt" >&2
"$M" stats "${traces[@]}" >"$out/stats.txt.tmp"
mv "$out/stats.txt.tmp" "$out/stats.txt"
{
  echo "stats.txt: $M stats of each trace (the .mtrace files; the .jsonl twins are the same)."
  echo
  echo "Every file here is third-party data turned into traces: read it, do not commit it."
} >>"$readme"
mv "$readme" "$out/README.txt"
touch "$out/READY"
echo "real_traces.sh: ${#traces[@]} traces in $out (README.txt says what each is)" >&2
