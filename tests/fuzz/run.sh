#!/usr/bin/env bash
# run.sh -- run each libFuzzer target for a while (make fuzz calls it).
#
#   tests/fuzz/run.sh FUZZ_DIR SECONDS TARGET...
#
# Each target FUZZ_DIR/fuzz_T runs SECONDS seconds on the seed corpus
# tests/fuzz/corpus/T (read only) plus a working corpus FUZZ_DIR/corpus/T
# (what it finds goes there), with tests/fuzz/T.dict when there is one.
# A crash, a leak, a sanitizer report or a time-out leaves the input in
# FUZZ_DIR/artifacts/ and fails the run: copy it into tests/fuzz/corpus/T/
# and make it a test.  Prints one line per target: executions, seconds,
# corpus size.
set -uo pipefail
dir="$1"; secs="$2"; shift 2
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$dir/artifacts"
fail=0; total=0
for t in "$@"; do
  mkdir -p "$dir/corpus/$t"
  dict=(); [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
  log="$dir/$t.log"
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
    "$dir/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$dir/artifacts/$t-" "${dict[@]}" "$dir/corpus/$t" "$here/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  ncorp=$(find "$dir/corpus/$t" "$here/corpus/$t" -type f | wc -l)
  if [ "$rc" -ne 0 ] || grep -qE '^==[0-9]+==ERROR|runtime error:|SUMMARY: (Address|Undefined|Leak)Sanitizer' "$log"; then
    fail=1
    echo "fuzz: $t: FAILED (exit $rc); $log:"
    grep -E 'ERROR|runtime error|SUMMARY|check failed|Test unit written' "$log" | head -20
  else
    printf 'fuzz: %-10s %10s executions in %ss (%s/s), corpus %s files, no crash, leak or sanitizer report\n' \
      "$t" "${execs:-?}" "$secs" "${rate:-?}" "$ncorp"
    total=$((total + ${execs:-0}))
  fi
done
echo "fuzz: $# targets, $total executions in all$([ $fail = 1 ] && echo ', FAILURES above')"
exit $fail
