#!/usr/bin/env bash
# One check on a machine with a real NVIDIA GPU (it may lack Node): discovery, per-process memory
# (what memory-limit enforcement reads and acts on) and GPU swap with cuda-checkpoint.
# Read-only towards the GPU's settings: never changes clocks, modes, MIG layout, never resets.
#
#   OUT=/tmp/out bash scripts/gpu-check.sh
#
# Writes captures (parser fixtures for the nvidia backend) and gpu-check.log into $OUT; exits
# non-zero when a check fails. When the agent lands (issue 3) this script also drives
# `tessera agent --gpu nvidia` and `tessera health -o json` through the same steps.
set -u
OUT=${OUT:-/tmp/gpu-check-out}
mkdir -p "$OUT"
LOG="$OUT/gpu-check.log"
: >"$LOG"
WORK=$(mktemp -d)
fails=0
say() { echo "$*" | tee -a "$LOG"; }
pass() { say "PASS $*"; }
fail() { say "FAIL $*"; fails=$((fails + 1)); }
gpu_used_by() { nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits | awk -F', *' -v p="$1" '$1==p {print $2}'; }

# 1. Discovery: the inventory and sample formats the nvidia backend parses.
command -v nvidia-smi >/dev/null || { fail "nvidia-smi not found"; exit 1; }
nvidia-smi -q -x >"$OUT/smi-q-x.xml" && pass "nvidia-smi -q -x ($(grep -c '<gpu id' "$OUT/smi-q-x.xml") GPU)" || fail "nvidia-smi -q -x"
nvidia-smi -L >"$OUT/smi-L.txt" && say "$(cat "$OUT/smi-L.txt")"
Q=index,uuid,name,memory.total,memory.reserved,memory.used,utilization.gpu,temperature.gpu,power.draw,ecc.errors.uncorrected.volatile.total,clocks_throttle_reasons.active,mig.mode.current,driver_version
nvidia-smi --query-gpu=$Q --format=csv >"$OUT/query-gpu.csv" 2>&1 && pass "query-gpu: $(tail -1 "$OUT/query-gpu.csv")" || fail "query-gpu: $(cat "$OUT/query-gpu.csv")"
# A long-lived sample stream, as the agent runs it: several samples from one process.
timeout 3 nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv,noheader -lms 500 >"$WORK/stream.csv" 2>&1
n=$(wc -l <"$WORK/stream.csv")
[ "$n" -ge 3 ] && pass "one -lms stream gave $n samples in 3 s" || fail "-lms stream gave $n samples"

# 2. A workload holding GPU memory: per-process memory is what limit enforcement compares.
if ! command -v nvcc >/dev/null; then fail "nvcc not found: cannot build the test workload"; exit 1; fi
nvcc -O2 -o "$WORK/holdmem" "$(dirname "$0")/gpu-check/holdmem.cu" 2>>"$LOG" || { fail "build holdmem"; exit 1; }
start_holder() { # MiB DIR -> pid
  mkdir -p "$2"
  "$WORK/holdmem" "$1" "$2" >"$2/out" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do grep -q READY "$2/out" && break; sleep 0.1; done
  echo "$pid"
}
A=$(start_holder 4096 "$WORK/a")
B=$(start_holder 2048 "$WORK/b")
sleep 1
nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv >"$OUT/compute-apps.csv"
ua=$(gpu_used_by "$A"); ub=$(gpu_used_by "$B")
say "holder A pid $A uses ${ua:-?} MiB, holder B pid $B uses ${ub:-?} MiB"
[ -n "$ua" ] && [ "$ua" -ge 4096 ] && pass "per-process memory seen for A" || fail "per-process memory for A: '${ua:-}'"

# 3. Memory limit: B's limit is 1024 MiB; it uses more, so it is killed, and A is untouched.
limit=1024
if [ -n "$ub" ] && [ "$ub" -gt "$limit" ]; then
  t0=$(date +%s%N); kill -KILL "$B"; wait "$B" 2>/dev/null
  for _ in $(seq 50); do [ -z "$(gpu_used_by "$B")" ] && break; sleep 0.1; done
  t1=$(date +%s%N)
  [ -z "$(gpu_used_by "$B")" ] && pass "B over its ${limit} MiB limit (${ub} MiB) killed; memory freed in $(((t1 - t0) / 1000000)) ms" || fail "B's memory not freed"
  [ -n "$(gpu_used_by "$A")" ] && pass "A untouched by B's kill" || fail "A lost its memory"
else
  fail "B's usage not above its limit: '${ub:-}'"
fi

# 4. GPU swap: checkpoint A to host memory, see its GPU memory go, restore, verify its data.
CC=$(command -v cuda-checkpoint || ls /usr/local/nvidia/bin/cuda-checkpoint /usr/bin/cuda-checkpoint 2>/dev/null | head -1)
if [ -z "$CC" ]; then
  # The tool is a separate download; the driver API it wraps is in the driver itself.
  if nvcc -O2 -o "$WORK/ckpt" "$(dirname "$0")/gpu-check/ckpt.c" -lcuda 2>>"$LOG"; then
    CC="$WORK/ckpt"
    say "cuda-checkpoint not installed: using scripts/gpu-check/ckpt.c over the driver's checkpoint API"
  fi
fi
if [ -z "$CC" ]; then
  fail "cuda-checkpoint not found and the driver API stand-in did not build: GPU swap cannot run here"
else
  say "state before: $("$CC" --action get-state --pid "$A" 2>&1)"
  "$CC" --help >"$OUT/cuda-checkpoint-help.txt" 2>&1
  before=$(free -m | awk '/Mem:/ {print $3}')
  t0=$(date +%s%N)
  "$CC" --action lock --pid "$A" >>"$LOG" 2>&1 && "$CC" --action checkpoint --pid "$A" >>"$LOG" 2>&1
  rc=$?; t1=$(date +%s%N)
  after=$(free -m | awk '/Mem:/ {print $3}')
  say "state after checkpoint: $("$CC" --action get-state --pid "$A" 2>&1)"
  [ $rc -eq 0 ] && pass "checkpoint A in $(((t1 - t0) / 1000000)) ms; host memory used ${before} -> ${after} MiB" || fail "checkpoint A (rc $rc)"
  sleep 0.5
  [ -z "$(gpu_used_by "$A")" ] && pass "A's GPU memory released while swapped out" || fail "A still holds $(gpu_used_by "$A") MiB while swapped out"
  t0=$(date +%s%N)
  "$CC" --action restore --pid "$A" >>"$LOG" 2>&1 && "$CC" --action unlock --pid "$A" >>"$LOG" 2>&1
  rc=$?; t1=$(date +%s%N)
  [ $rc -eq 0 ] && pass "restore A in $(((t1 - t0) / 1000000)) ms" || fail "restore A (rc $rc)"
  touch "$WORK/a/verify"
  for _ in $(seq 100); do grep -q VERIFY1 "$WORK/a/out" && break; sleep 0.1; done
  grep -q "VERIFY1 OK" "$WORK/a/out" && pass "A's 4096 MiB intact after swap out and in" || fail "A's data after swap: $(grep VERIFY "$WORK/a/out")"
fi
touch "$WORK/a/exit"
# Holders are grandchildren (started inside $(...)): wait by polling, not `wait`.
for _ in $(seq 50); do kill -0 "$A" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$A" 2>/dev/null

say "gpu-check: $fails failure(s)"
rm -rf "$WORK"
[ "$fails" -eq 0 ]
