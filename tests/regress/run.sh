#!/usr/bin/env bash
# run.sh -- the output regression check: every command of cases.sh, its
# outputs compared byte for byte with tests/regress/expected/ (time fields
# masked by normalize.sed).
#
#   tests/regress/run.sh BIN            compare; exit 1 and a diff on change
#   tests/regress/run.sh BIN --update   record the outputs as expected
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
M="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
mode="${2:-check}"
work="$(mktemp -d "${TMPDIR:-/tmp}/marconi_regress.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export LC_ALL=C
cd "$work"
# the inputs by a relative name, so no output depends on where the checkout is
cp -r "$here/inputs" inputs
IN=inputs
mkdir out
c() {
  local name="$1"; shift
  set +e
  "$@" >"out/$name.out" 2>"out/$name.err" </dev/null
  echo $? >"out/$name.rc"
  set -e
}
source "$here/cases.sh"
# the files the cases wrote, beside their captured streams; .journal holds
# completion order (and the fingerprint), compared through runs.* instead.
# Traces are large: their checksums stand for them (files.sha256); the
# smaller outputs are kept whole so a change shows as a diff.
find . -path ./out -prune -o -path ./inputs -prune -o -type f ! -name .journal -print | sort | while read -r f; do
  if [ "$(stat -c %s "$f")" -gt 65536 ] || case "$f" in *.jsonl|*.gz|*.mtrace) true;; *) false;; esac; then
    sha256sum "$f" >>out/files.sha256
  else
    mkdir -p "out/files/$(dirname "$f")"; cp "$f" "out/files/$f"
  fi
done
# time fields vary run to run: mask them in every text file
find out -type f ! -name '*.gz' ! -name '*.mtrace' -print0 | xargs -0 sed -i -E -f "$here/normalize.sed"
ncases=$(find out -maxdepth 1 -name '*.rc' | wc -l)
if [ "$mode" = --update ]; then
  rm -rf "$here/expected"; cp -r out "$here/expected"
  echo "regress: recorded $ncases cases in $here/expected"
  exit 0
fi
if diff -r "$here/expected" out >"$work/diff.txt"; then
  echo "regress: $ncases cases, outputs unchanged"
  echo "$ncases passed, 0 failed"
else
  head -c 20000 "$work/diff.txt"
  nbad=$( (diff -rq "$here/expected" out || true) | wc -l)
  echo "regress: outputs changed ($nbad files); tests/regress/run.sh BIN --update records them if intended"
  echo "$((ncases)) checked, $nbad differ"
  exit 1
fi
