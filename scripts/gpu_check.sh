#!/usr/bin/env bash
# gpu_check.sh -- the GPU backend's whole device check, as one command for a
# lent GPU machine: correctness (gpu_test), speed (gpu_bench), then memory
# errors and shared-memory races on the small tests (compute-sanitizer,
# where it is installed and time is left).
#
# Build here first (make gpu: build/gpu/gpu_test, build/gpu/gpu_bench, sm_90),
# then run it on the GPU machine from the repository root with those two
# binaries carried:
#
#   bash scripts/gpu_check.sh [OUTDIR]          (default $OUT, else results/gpu)
#
# Writes into OUTDIR: gpu_info.txt (device, driver, libraries), gpu_test.log,
# gpu_bench.md (the tables for gpu_backend/PERF.md), memcheck.log,
# racecheck.log and summary.txt (one line a step).  Every step has its own
# time limit (GPU_CHECK_LIMITS="test bench memcheck all", seconds;
# racecheck gets what is left of "all"), so the whole stays near seven
# minutes even when a kernel hangs, leaving a 15-minute device budget room
# for a rerun; a step that fails or times out does not stop the later
# ones.  Exit status: 0 when gpu_test passed and gpu_bench finished, else 1.
set -u
out=${1:-${OUT:-results/gpu}}
mkdir -p "$out"
read -r lim_test lim_bench lim_san lim_all <<<"${GPU_CHECK_LIMITS:-150 240 90 420}"
bin=build/gpu
summary="$out/summary.txt"
: >"$summary"
say() { echo "$*" | tee -a "$summary"; }
t_start=$(date +%s)

# The binaries link libcublas.so.13 and libjansson.so.4 dynamically (cudart
# statically).  Where the loader does not know cuBLAS, look where CUDA and
# the Python wheels keep it.
if ! ldconfig -p 2>/dev/null | grep -q 'libcublas\.so\.13'; then
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-13*/lib64 \
        /usr/local/cuda-13*/targets/x86_64-linux/lib $(ls -d /opt/*/.venv/lib/python3*/site-packages/nvidia/cu13/lib \
        /opt/*/.venv/lib/python3*/site-packages/nvidia/cublas/lib /usr/local/lib/python3*/dist-packages/nvidia/cu*/lib \
        2>/dev/null); do
        if [ -e "$d/libcublas.so.13" ]; then
            export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
            break
        fi
    done
fi

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "host: $(uname -srm)"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem \
        --format=csv 2>&1
    echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
    for b in gpu_test gpu_bench; do
        echo "== ldd $bin/$b"
        ldd "$bin/$b" 2>&1
    done
} >"$out/gpu_info.txt" 2>&1
head -3 "$out/gpu_info.txt" | tail -2

missing=0
for b in gpu_test gpu_bench; do
    if [ ! -x "$bin/$b" ]; then
        say "missing: $bin/$b (run make gpu where nvcc is, and carry build/gpu/$b)"
        missing=1
    elif ldd "$bin/$b" 2>&1 | grep -q 'not found'; then
        say "unloadable: $bin/$b needs a library this machine lacks (gpu_info.txt lists them)"
        missing=1
    fi
done
[ $missing = 0 ] || exit 1

step() { # name limit logfile command...
    local name=$1 limit=$2 log=$3 rc t0
    shift 3
    t0=$(date +%s)
    echo "== $name (limit ${limit}s)"
    timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
    rc=$?
    case $rc in
    0) say "$name: ok in $(($(date +%s) - t0)) s" ;;
    124 | 137) say "$name: TIMED OUT after ${limit} s (see $(basename "$log"))" ;;
    *) say "$name: exit $rc in $(($(date +%s) - t0)) s (see $(basename "$log"))" ;;
    esac
    return $rc
}

step gpu_test "$lim_test" "$out/gpu_test.log" "$bin/gpu_test"
rc_test=$?
grep -E '^(FAIL|gpu_test:)' "$out/gpu_test.log" | tee -a "$summary"

step gpu_bench "$lim_bench" "$out/gpu_bench.md" "$bin/gpu_bench"
rc_bench=$?
grep -E '^\| (8192|16384|32768) \| ' "$out/gpu_bench.md" | head -4

# compute-sanitizer, where the machine has it: memcheck over the small
# tests (tiny models, the kernels at small shapes), then racecheck over the
# same, with whatever time is left.
san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null | head -1)
if [ -n "$san" ]; then
    step memcheck "$lim_san" "$out/memcheck.log" "$san" --tool memcheck --error-exitcode 3 "$bin/gpu_test" --small
    tail -3 "$out/memcheck.log" | tee -a "$summary"
    left=$((lim_all - ($(date +%s) - t_start)))
    if [ $left -gt 45 ]; then
        step racecheck "$left" "$out/racecheck.log" "$san" --tool racecheck --racecheck-report hazard \
            --error-exitcode 3 "$bin/gpu_test" --small
        tail -3 "$out/racecheck.log" | tee -a "$summary"
    fi
else
    say "compute-sanitizer: not on this machine, skipped"
fi

say "total: $(($(date +%s) - t_start)) s"
[ $rc_test = 0 ] && [ $rc_bench = 0 ]
