#!/usr/bin/env bash
# gpu_device.sh -- everything a lent GPU machine is for, as one command that
# fits in ten minutes: the backend's device check (gpu_check.sh, with
# shorter limits), then the live replay of issue "live replay" on the CUDA
# executor, then a measured prefill profile of hybrid-7b.
#
# Build here first: `make gpu` (sm_90) gives build/gpu/gpu_test, gpu_bench
# and marconi (the command with the CUDA executor linked in).  Then, on the
# GPU machine from the repository root, carrying build/gpu:
#
#   bash scripts/gpu_device.sh [OUTDIR]        (default $OUT, else results/gpu)
#
# Writes into OUTDIR what gpu_check.sh writes, plus swe20.mtrace (a
# 20-session SWE-bench-like trace), replay.txt / replay.json (hybrid-7b at
# 40 GB, real bytes, every 10th request checked against a cold prefill),
# profile_hybrid-7b.csv (new x cached tokens -> ms, for --ttft-model
# profile:), and a line a step in summary.txt.  Limits (seconds):
# GPU_DEVICE_LIMITS="check replay profile" (default "230 200 90").
set -u
out=${1:-${OUT:-results/gpu}}
mkdir -p "$out"
read -r lim_check lim_replay lim_profile <<<"${GPU_DEVICE_LIMITS:-230 200 90}"
here=$(cd "$(dirname "$0")" && pwd)
bin=build/gpu/marconi

# the device check, squeezed to leave room for the rest (test bench memcheck all)
GPU_CHECK_LIMITS="100 140 40 $lim_check" bash "$here/gpu_check.sh" "$out"
check_rc=$?
summary="$out/summary.txt"
say() { echo "$*" | tee -a "$summary"; }
if [ ! -x "$bin" ]; then
    say "replay: $bin missing (make gpu builds it)"
    exit 1
fi
# gpu_check.sh found cuBLAS for its programs; marconi needs the same
if ! ldconfig -p 2>/dev/null | grep -q 'libcublas\.so\.13'; then
    d=$(sed -n 's/^LD_LIBRARY_PATH=//p' "$out/gpu_info.txt" 2>/dev/null | head -1)
    [ -n "$d" ] && export LD_LIBRARY_PATH="$d"
fi
"$bin" gen swebench --sessions 20 --seed 1 -o "$out/swe20.mtrace" >"$out/gen.log" 2>&1
t0=$(date +%s)
timeout "$lim_replay" "$bin" replay "$out/swe20.mtrace" --backend cuda --model hybrid-7b --capacity 40GB \
    --bytes real --system marconi --check-equivalence 10 --per-request "$out/replay_requests.csv" \
    >"$out/replay.txt" 2>&1
rc=$?
say "replay: exit $rc in $(($(date +%s) - t0)) s (replay.txt)"
if [ $rc -eq 0 ]; then
    timeout 60 "$bin" sim "$out/swe20.mtrace" --model hybrid-7b --capacity 40GB --bytes real --system marconi \
        --timing logical --per-request "$out/sim_requests.csv" >"$out/sim.txt" 2>&1
    if cmp -s <(cut -d, -f1-5 "$out/sim_requests.csv") <(cut -d, -f1-5 "$out/replay_requests.csv"); then
        say "replay: hits equal the simulation's for every request"
    else
        say "replay: hits DIFFER from the simulation's (compare sim_requests.csv and replay_requests.csv)"
    fi
fi
t0=$(date +%s)
timeout "$lim_profile" "$bin" profile --model hybrid-7b --backend cuda -o "$out/profile_hybrid-7b.csv" \
    >"$out/profile.txt" 2>&1
say "profile: exit $? in $(($(date +%s) - t0)) s (profile_hybrid-7b.csv)"
[ $check_rc -eq 0 ] && [ $rc -eq 0 ]
