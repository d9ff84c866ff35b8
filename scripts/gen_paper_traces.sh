#!/usr/bin/env bash
# gen_paper_traces.sh -- the paper's 30 traces, generated (no downloads):
# LMSys- and ShareGPT-like at sps 0.25 0.5 1 2 5 10, SWE-bench-like at those
# x art 5 7.5 10, 100 sessions each, named as the reference artifact names
# them (lmsys_sps=0.5_nums=100.jsonl, swebench_sps=1_art=7.5_nums=100.jsonl).
#
#   scripts/gen_paper_traces.sh [DIR [FORMAT [SEED]]]
#
# FORMAT: jsonl (default; 5.1 GB, ~20 s on 2 cores), jsonl.gz (slow: gzip),
# or mtrace (packed; 115 MB, ~3 s).  The same SEED gives the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-results/traces}
FMT=${2:-jsonl}
SEED=${3:-1}
make -s build/marconi
mkdir -p "$DIR"
build/marconi gen --paper "$DIR" --format "$FMT" --seed "$SEED"
