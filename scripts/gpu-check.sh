#!/usr/bin/env bash
# One check on a machine with a real NVIDIA GPU (it may lack Node): discovery, per-process memory
# (what memory-limit enforcement reads and acts on) and GPU swap with cuda-checkpoint (steps 1-4,
# bash + driver + nvcc only); then, where Node can run, Tessera itself (steps 5-6): discovery through
# the nvidia backend (`tessera health -o json --gpu nvidia`), and `tessera agent --gpu nvidia` running
# two PyTorch processes on one GPU under memory limits, the one that grows over its limit killed by
# the agent's enforcement and its neighbour untouched; then (step 7, where podman runs) the same in
# containers with `--runtime container` and a swap of the containerised process. Ends with a PASS/FAIL table.
# Read-only towards the GPU's settings: never changes clocks, modes, MIG layout, never resets.
#
#   OUT=/tmp/out bash scripts/gpu-check.sh
#
# Writes captures (parser fixtures for the nvidia backend), agent.log and gpu-check.log into $OUT;
# exits non-zero when a check fails.
#
# Node for steps 5-6: `node` on PATH (>= 20), else .device-node/bin/node, else .device-node/bin/node.xz
# (unpacked into a temp dir). Tessera: bin/tessera.js when node_modules is installed, else the bundle
# .device-node/tessera.mjs. To bring both to a machine without Node (node_modules, 194 MB, does not
# travel; the node binary is ~95 MB, so it goes xz-compressed, ~25 MB), in the repo root here:
#   echo /.device-node/ >> .git/info/exclude; mkdir -p .device-node/bin
#   xz -T0 -9 -c "$(command -v node)" > .device-node/bin/node.xz
#   npx esbuild cli/main.ts --bundle --platform=node --format=esm --target=node20 \
#     --outfile=.device-node/tessera.mjs \
#     --banner:js="import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);"
# and carry `.device-node` with the working tree. Without Node, steps 5-6 are reported as skipped.
set -u
OUT=${OUT:-/tmp/gpu-check-out}
mkdir -p "$OUT"
LOG="$OUT/gpu-check.log"
: >"$LOG"
WORK=$(mktemp -d)
fails=0
RESULTS=()
say() { echo "$*" | tee -a "$LOG"; }
pass() { say "PASS $*"; RESULTS+=("PASS|$*"); }
fail() { say "FAIL $*"; RESULTS+=("FAIL|$*"); fails=$((fails + 1)); }
skip() { say "SKIP $*"; RESULTS+=("SKIP|$*"); }
# The table of every check, then the exit status; called on every way out.
finish() {
  say ""
  say "gpu-check summary"
  for r in ${RESULTS[@]+"${RESULTS[@]}"}; do printf '  %-5s %s\n' "${r%%|*}" "${r#*|}" | tee -a "$LOG"; done
  say "gpu-check: $fails failure(s)"
  rm -rf "$WORK"
  [ "$fails" -eq 0 ]
  exit $?
}
gpu_used_by() { nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits | awk -F', *' -v p="$1" '$1==p {print $2}'; }

# 1. Discovery: the inventory and sample formats the nvidia backend parses.
command -v nvidia-smi >/dev/null || { fail "nvidia-smi not found"; finish; }
nvidia-smi -q -x >"$OUT/smi-q-x.xml" && pass "nvidia-smi -q -x ($(grep -c '<gpu id' "$OUT/smi-q-x.xml") GPU)" || fail "nvidia-smi -q -x"
nvidia-smi -L >"$OUT/smi-L.txt" && say "$(cat "$OUT/smi-L.txt")"
Q=index,uuid,name,memory.total,memory.reserved,memory.used,utilization.gpu,temperature.gpu,power.draw,ecc.errors.uncorrected.volatile.total,clocks_throttle_reasons.active,mig.mode.current,driver_version
nvidia-smi --query-gpu=$Q --format=csv >"$OUT/query-gpu.csv" 2>&1 && pass "query-gpu: $(tail -1 "$OUT/query-gpu.csv")" || fail "query-gpu: $(cat "$OUT/query-gpu.csv")"
# A long-lived sample stream, as the agent runs it: several samples from one process.
timeout 3 nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv,noheader -lms 500 >"$WORK/stream.csv" 2>&1
n=$(wc -l <"$WORK/stream.csv")
[ "$n" -ge 3 ] && pass "one -lms stream gave $n samples in 3 s" || fail "-lms stream gave $n samples"

# 2. A workload holding GPU memory: per-process memory is what limit enforcement compares.
# Steps 2-4 need nvcc; without it they are one failure and the Tessera steps still run.
cuda_steps() {
if ! command -v nvcc >/dev/null; then fail "nvcc not found: cannot build the test workload (steps 2-4)"; return; fi
nvcc -O2 -o "$WORK/holdmem" "$(dirname "$0")/gpu-check/holdmem.cu" 2>>"$LOG" || { fail "build holdmem"; return; }
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
}
cuda_steps

# 5-6. Tessera itself, where Node can run.
REPO=$(cd "$(dirname "$0")/.." && pwd)
NODE=""
if command -v node >/dev/null && node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' 2>/dev/null; then
  NODE=$(command -v node)
elif [ -x "$REPO/.device-node/bin/node" ]; then
  NODE="$REPO/.device-node/bin/node"
elif [ -f "$REPO/.device-node/bin/node.xz" ] && command -v xz >/dev/null; then
  xz -dc "$REPO/.device-node/bin/node.xz" >"$WORK/node" && chmod +x "$WORK/node" && NODE="$WORK/node"
fi
TESSERA=()
if [ -n "$NODE" ] && [ -d "$REPO/node_modules/tsx" ]; then
  TESSERA=("$NODE" "$REPO/bin/tessera.js")
elif [ -n "$NODE" ] && [ -f "$REPO/.device-node/tessera.mjs" ]; then
  TESSERA=("$NODE" "$REPO/.device-node/tessera.mjs")
fi
# A field of a JSON document on stdin, by a JS expression over `j` (e.g. 'j.gpus.length').
json() { "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let j;try{j=JSON.parse(s)}catch{process.exit(1)}const v=eval(process.argv[1]);console.log(typeof v==="object"?JSON.stringify(v):String(v))})' "$1"; }

tessera_steps() {
  say "tessera: ${TESSERA[*]} (node $("$NODE" --version))"
  # 5. Discovery and health through the nvidia backend (no agent running: degraded at worst, exit 0).
  "${TESSERA[@]}" health -o json --gpu nvidia --data "$WORK/agent" >"$OUT/health.json" 2>>"$LOG"
  local rc=$? n driver level
  n=$(json 'j.gpus.length' <"$OUT/health.json" 2>/dev/null)
  driver=$(json 'j.driver.ok ? j.driver.driverVersion : j.driver.error' <"$OUT/health.json" 2>/dev/null)
  level=$(json 'j.level + " (" + j.gpus.map(g => g.model + ": " + g.level + (g.reasons.length ? " " + g.reasons.join("; ") : "")).join(", ") + ")"' <"$OUT/health.json" 2>/dev/null)
  if [ "${n:-0}" -ge 1 ] 2>/dev/null && [ "$rc" -le 1 ]; then
    pass "tessera health --gpu nvidia: $n GPU, driver $driver, health $level, exit $rc"
  else
    fail "tessera health --gpu nvidia (exit $rc): ${driver:-no JSON, see gpu-check.log}"
  fi

  # 6. The agent enforcing memory limits on two PyTorch processes sharing GPU 0.
  if ! python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>>"$LOG"; then
    fail "python3 with torch and CUDA not available: agent enforcement not checked"
    return
  fi
  # Allocates MIB with torch, says READY, optionally grows to GROW_TO MiB after GROW_AFTER s, then idles.
  cat >"$WORK/holdtorch.py" <<'PY'
import os, sys, time, torch
mib, grow_to, grow_after = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
dev = torch.device("cuda", 0)
held = [torch.ones(mib * 1024 * 1024, dtype=torch.uint8, device=dev)]
torch.cuda.synchronize()
print(f"READY pid={os.getpid()} mib={mib}", flush=True)
if grow_to > mib:
    time.sleep(grow_after)
    held.append(torch.ones((grow_to - mib) * 1024 * 1024, dtype=torch.uint8, device=dev))
    torch.cuda.synchronize()
    print(f"GREW to {grow_to} MiB", flush=True)
while True:
    time.sleep(1)
PY
  local py; py=$(command -v python3)
  # Limits leave room for the CUDA context (~0.5 GiB per process on an H200) beside the tensors.
  cat >"$WORK/pods.json" <<JSON
[
  {"podId": "calm", "command": ["$py", "$WORK/holdtorch.py", "2048", "0", "0"],
   "grants": [{"index": 0, "gpuMilli": 500, "memoryMiB": 4096}], "graceSeconds": 2},
  {"podId": "hog", "command": ["$py", "$WORK/holdtorch.py", "1024", "8192", "4"],
   "grants": [{"index": 0, "gpuMilli": 500, "memoryMiB": 4096}], "graceSeconds": 2}
]
JSON
  # Pods as root, as before the hardened process runtime: torch may live where other uids cannot read.
  "${TESSERA[@]}" agent --gpu nvidia --runtime process --pod-uid-range agent --pod-root "$WORK/pods" \
    --data "$WORK/agent" --sample-interval 500ms --port 0 --pods "$WORK/pods.json" >>"$OUT/agent.log" 2>&1 &
  local agent=$! status="" hog="" calm=""
  for _ in $(seq 120); do
    sleep 0.5
    status=$("${TESSERA[@]}" health -o json --gpu nvidia --data "$WORK/agent" 2>/dev/null)
    hog=$(echo "$status" | json 'j.agent.view.pods.find(p => p.podId === "hog")?.state' 2>/dev/null)
    [ "$hog" = "exited" ] && break
    kill -0 "$agent" 2>/dev/null || break
  done
  echo "$status" >"$OUT/health-agent.json"
  local reason calm_pid calm_used
  reason=$(echo "$status" | json 'j.agent.view.pods.find(p => p.podId === "hog")?.reason' 2>/dev/null)
  calm=$(echo "$status" | json 'j.agent.view.pods.find(p => p.podId === "calm")?.state' 2>/dev/null)
  calm_pid=$(echo "$status" | json 'j.agent.view.pods.find(p => p.podId === "calm")?.pid' 2>/dev/null)
  calm_used=$(gpu_used_by "$calm_pid")
  if [ "$hog" = "exited" ] && [[ "$reason" == GPU\ OOM* ]]; then
    pass "agent killed the PyTorch pod over its 4096 MiB limit: $reason"
  else
    fail "agent did not kill the over-limit pod (state ${hog:-?}, reason ${reason:-none}); see agent.log"
  fi
  if [ "$calm" = "ready" ] && kill -0 "$calm_pid" 2>/dev/null && [ -n "$calm_used" ]; then
    pass "its neighbour on the same GPU untouched: pid $calm_pid ready, $calm_used MiB"
  else
    fail "the neighbour pod: state ${calm:-?}, pid ${calm_pid:-?}, GPU memory '${calm_used:-}'"
  fi
  local lat
  lat=$(grep -o '"msg":"GPU OOM[^}]*' "$OUT/agent.log" | head -1)
  [ -n "$lat" ] && say "agent event: $lat"
  # The agent leaves its pods running by design: stop it, then the pods.
  kill -TERM "$agent" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$agent" 2>/dev/null || break; sleep 0.1; done
  # Each pod is its own process group (pid = pgid); the hog's is gone already.
  [ -n "$calm_pid" ] && kill -KILL -- "-$calm_pid" 2>/dev/null
  return 0
}
# 7. The container runtime on the real GPU: holdmem in a Podman container (its GPU by CDI where
# nvidia-ctk can write a spec, else the device nodes with the driver's libraries copied into the
# image), the agent's GPU-memory limit kill of a container over its limit with its neighbour left
# alone, and swap (cuda-checkpoint) of the containerised process by its host pid, data verified.
container_steps() {
  if ! command -v podman >/dev/null; then skip "container steps: podman not installed (apt-get install --no-install-recommends podman runc)"; return; fi
  if [ "$(id -u)" -ne 0 ]; then skip "container steps: the container runtime is rootful podman; run as root"; return; fi
  if [ ! -x "$WORK/holdmem" ]; then skip "container steps: holdmem was not built (nvcc, step 2)"; return; fi
  local img=localhost/tessera-gpu-check/holdmem:1 root="$WORK/img" cdi="$WORK/cdi" how lib
  mkdir -p "$root/tmp" "$cdi"
  chmod 1777 "$root/tmp"
  copy_in() { mkdir -p "$root$(dirname "$1")" && cp -L "$1" "$root$1"; }
  copy_in "$WORK/holdmem"
  for lib in $(ldd "$WORK/holdmem" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do copy_in "$lib"; done
  if command -v nvidia-ctk >/dev/null && nvidia-ctk cdi generate --output="$cdi/nvidia.yaml" >>"$LOG" 2>&1; then
    how="CDI ($(grep -c 'name:' "$cdi/nvidia.yaml") names in $cdi/nvidia.yaml)"
  else
    for lib in $(ldconfig -p | awk '/libcuda\.so\.1 |libnvidia-ptxjitcompiler\.so\.1 |libnvidia-nvvm\.so\.4 / {print $NF}'); do copy_in "$lib"; done
    how="device nodes (no nvidia-ctk), the driver's libcuda copied into the image"
  fi
  if ! tar -C "$root" -c . | podman import - "$img" >>"$LOG" 2>&1; then fail "podman import of the holdmem image"; return; fi
  pass "holdmem image from this machine's files; its GPU by $how"
  cat >"$WORK/cpods.json" <<JSON
[
  {"podId": "ccalm", "image": "$img", "imagePullPolicy": "Never", "command": ["$WORK/holdmem", "2048", "/tmp"],
   "grants": [{"index": 0, "gpuMilli": 500, "memoryMiB": 4096}], "graceSeconds": 2},
  {"podId": "chog", "image": "$img", "imagePullPolicy": "Never", "command": ["$WORK/holdmem", "6144", "/tmp"],
   "grants": [{"index": 0, "gpuMilli": 500, "memoryMiB": 4096}], "graceSeconds": 2}
]
JSON
  "${TESSERA[@]}" agent --gpu nvidia --runtime container --cdi-spec-dir "$cdi" --pod-root "$WORK/pods-c" \
    --data "$WORK/agent-c" --sample-interval 500ms --port 0 --pods "$WORK/cpods.json" >>"$OUT/agent-containers.log" 2>&1 &
  local agent=$! status="" hog="" calm="" calm_pid="" reason="" used="" t0 t1 rc
  for _ in $(seq 120); do
    sleep 0.5
    status=$("${TESSERA[@]}" health -o json --gpu nvidia --data "$WORK/agent-c" 2>/dev/null)
    hog=$(echo "$status" | json 'j.agent.view.pods.find(p => p.podId === "chog")?.state' 2>/dev/null)
    calm=$(echo "$status" | json 'j.agent.view.pods.find(p => p.podId === "ccalm")?.state' 2>/dev/null)
    [ "$hog" = "exited" ] && [ "$calm" = "ready" ] && break
    kill -0 "$agent" 2>/dev/null || break
  done
  echo "$status" >"$OUT/health-agent-containers.json"
  reason=$(echo "$status" | json 'j.agent.view.pods.find(p => p.podId === "chog")?.reason' 2>/dev/null)
  calm_pid=$(echo "$status" | json 'j.agent.view.pods.find(p => p.podId === "ccalm")?.pid' 2>/dev/null)
  used=$(gpu_used_by "$calm_pid")
  podman ps -a --filter label=tessera.pod --format '{{.Names}} {{.Status}}' >>"$LOG" 2>&1
  if [ "$hog" = "exited" ] && [[ "$reason" == GPU\ OOM* ]]; then
    pass "container: the agent killed the pod over its 4096 MiB limit: $reason"
  else
    fail "container: the over-limit pod was not killed (state ${hog:-?}, reason ${reason:-none}); see agent-containers.log"
  fi
  if [ "$calm" = "ready" ] && [ -n "$used" ]; then
    pass "container: its neighbour untouched, host pid $calm_pid holds $used MiB"
  else
    fail "container: the neighbour (state ${calm:-?}, host pid ${calm_pid:-?}, GPU memory '${used:-}')"
  fi
  if [ -n "${CC:-}" ] && [ -n "$used" ]; then
    t0=$(date +%s%N)
    "$CC" --action lock --pid "$calm_pid" >>"$LOG" 2>&1 && "$CC" --action checkpoint --pid "$calm_pid" >>"$LOG" 2>&1
    rc=$?; t1=$(date +%s%N); sleep 0.5
    [ $rc -eq 0 ] && [ -z "$(gpu_used_by "$calm_pid")" ] && pass "container: swapped out by host pid in $(((t1 - t0) / 1000000)) ms, GPU memory released" || fail "container: swap out (rc $rc, still $(gpu_used_by "$calm_pid") MiB)"
    "$CC" --action restore --pid "$calm_pid" >>"$LOG" 2>&1 && "$CC" --action unlock --pid "$calm_pid" >>"$LOG" 2>&1
    rc=$?
    # The pod's /tmp, reached from the host through its root: holdmem checks its memory on request.
    touch "/proc/$calm_pid/root/tmp/verify"
    for _ in $(seq 100); do grep -q VERIFY1 "$WORK/agent-c/pods/ccalm/logs/stdout.log" 2>/dev/null && break; sleep 0.1; done
    grep -q "VERIFY1 OK" "$WORK/agent-c/pods/ccalm/logs/stdout.log" && [ $rc -eq 0 ] && pass "container: swapped in, its 2048 MiB intact" || fail "container: after swap in (rc $rc): $(grep VERIFY "$WORK/agent-c/pods/ccalm/logs/stdout.log" 2>/dev/null)"
  else
    skip "container: swap not checked (no cuda-checkpoint, or the neighbour holds no memory)"
  fi
  kill -TERM "$agent" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$agent" 2>/dev/null || break; sleep 0.1; done
  # The agent leaves its containers running by design: remove them and the image.
  podman ps -aq --filter label=tessera.pod | xargs -r podman rm -f -t 0 >>"$LOG" 2>&1
  podman rmi -f "$img" >>"$LOG" 2>&1
  return 0
}

if [ ${#TESSERA[@]} -eq 0 ]; then
  skip "tessera steps: no node >= 20 (PATH, .device-node/bin/node[.xz]) or no tessera (node_modules, .device-node/tessera.mjs)"
else
  tessera_steps
  container_steps
fi
finish
