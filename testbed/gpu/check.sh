#!/usr/bin/env bash
# inferprobe's real-GPU validation (docs/gpu-validation.md): one script run as root on a GPU
# machine, from the repository root, with bin/inferprobe and bin/gpucheck in the tree (make
# gpu-check builds them, so the GPU machine needs no Go). Four to five
# minutes. It never stops at a failed phase: each phase says what failed and the rest run.
#
#   testbed/gpu/check.sh [OUT]        OUT defaults to $OUT when set, else out/gpu-check
#
# Phases: versions; inferprobe doctor; the kernels one prefill and one decode step run
# (torch.profiler, its own process); server 1 (eager decode) under a closed-loop load
# without inferprobe (A); inferprobe record --pid attached during a mixed load (the accuracy
# window), then the same closed-loop load with inferprobe attached, then a tracefs census
# of every exported cu* function of libcuda under a short load of its own; detached, the
# closed-loop load again (B); inferprobe agent's NVML figures against nvidia-smi; server 2
# (CUDA-graph decode, steps ending in cuEventSynchronize) started under record, so its
# kernel-name lookups and graph captures are seen; then the
# accuracy tables, call counts and census. What it leaves in OUT (a handful of files, so
# they are easy to copy off the machine): summary.txt (every figure), check.log,
# artifacts.tar.gz (truth, records without raw events, census, load summaries, logs),
# events1-head.jsonl.gz and events2-head.jsonl.gz (the first raw events of each recording).
#
# Knobs (environment), for a run here on the CPU (the Go test does this):
#   GPUCHECK_DEVICE=cuda  GPUCHECK_MODEL="--layers 4 ..."  GPUCHECK_SECONDS=15 (closed-loop load)
#   GPUCHECK_ACC_SECONDS=25 (mixed load)  GPUCHECK_ACC_RATE=40  GPUCHECK_TPUT_CONCURRENCY=32
#   PYTHON=python3  GPUCHECK_WORK=/tmp/gpucheck-work  GPUCHECK_BIN=bin (inferprobe and gpucheck)
set -u -o pipefail
cd "$(dirname "$0")/../.." || exit 1

OUT=${1:-${OUT:-out/gpu-check}}
W=${GPUCHECK_WORK:-/tmp/gpucheck-work}
PY=${PYTHON:-python3}
DEVICE=${GPUCHECK_DEVICE:-cuda}
MODEL=${GPUCHECK_MODEL:---layers 4 --hidden 1024 --heads 16 --vocab 32000 --max-model-len 1024 --max-batch 16}
T_TPUT=${GPUCHECK_SECONDS:-15}
T_ACC=${GPUCHECK_ACC_SECONDS:-25}
ACC_RATE=${GPUCHECK_ACC_RATE:-40}
TPUT_C=${GPUCHECK_TPUT_CONCURRENCY:-32}
PORT1=${GPUCHECK_PORT:-8123}
PORT2=$((PORT1 + 1))
APORT=$((PORT1 + 1356))
BIN=${GPUCHECK_BIN:-bin}
IP=$BIN/inferprobe
GC=$BIN/gpucheck
SRV=testbed/gpu/server.py
LOAD=testbed/gpu/load.py
TPUT_ARGS="--rate 0 --concurrency $TPUT_C --prompt-tokens 128:128 --output-tokens 128:128 --stream-fraction 1 --usage-fraction 1"
ACC_ARGS="--rate $ACC_RATE --concurrency 64 --prompt-tokens 16:512 --output-tokens 16:128 --stream-fraction 0.8 --usage-fraction 0.5"

mkdir -p "$OUT" && rm -rf "$W" && mkdir -p "$W" || exit 1
SUM=$OUT/summary.txt
: >"$SUM"
exec > >(tee -a "$OUT/check.log") 2>&1
TEE_PID=$!
export PYTHONUNBUFFERED=1

phase() { echo; echo "=== $* (t+${SECONDS}s)"; }
# sum TEXT: a line of the summary (and the log)
sum() { echo "$*" | tee -a "$SUM"; }
# section TITLE CMD...: run CMD, its output in the summary under TITLE
section() {
	local title=$1; shift
	echo | tee -a "$SUM"
	echo "## $title" | tee -a "$SUM"
	"$@" 2>&1 | tee -a "$SUM"
	return "${PIPESTATUS[0]}"
}
now() { "$GC" now; }

PIDS=()
CENSUS=0
cleanup() {
	[ "$CENSUS" = 1 ] && "$GC" census-stop --out "$W/uprobe_profile.txt" >/dev/null 2>&1
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
}
trap cleanup EXIT

# wait_line FILE PATTERN SECONDS PID: wait until FILE has PATTERN, PID dies, or time passes
wait_line() {
	local i
	for ((i = 0; i < $3 * 5; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		kill -0 "$4" 2>/dev/null || { echo "process $4 exited before '$2' appeared in $1:"; tail -5 "$1"; return 1; }
		sleep 0.2
	done
	echo "'$2' did not appear in $1 within $3 s"; tail -5 "$1"; return 1
}

# stop PID SECONDS: SIGINT, then SIGTERM, then SIGKILL
stop() {
	local i
	kill -INT "$1" 2>/dev/null || return 0
	for ((i = 0; i < $2 * 5; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.2; done
	echo "process $1 still running after SIGINT and $2 s: SIGTERM"; kill -TERM "$1" 2>/dev/null; sleep 2
	kill -KILL "$1" 2>/dev/null
}

start_server() { # N PORT EXTRA_FLAGS... -> SERVER_PID
	local n=$1 port=$2; shift 2
	# shellcheck disable=SC2086
	$PY "$SRV" --port "$port" --device "$DEVICE" $MODEL --truth "$W/truth$n.jsonl" "$@" >"$W/server$n.log" 2>&1 &
	SERVER_PID=$!
	PIDS+=("$SERVER_PID")
}

start_record() { # N PID EXTRA_FLAGS... -> RECORD_PID
	local n=$1 pid=$2; shift 2
	"$IP" record --pid "$pid" --duration 120s --out "$W/record$n" "${NVML_FLAG[@]}" "$@" >"$W/record$n.out" 2>"$W/record$n.err" &
	RECORD_PID=$!
	PIDS+=("$RECORD_PID")
	wait_line "$W/record$n.err" 'msg=recording' 30 "$RECORD_PID"
}

load() { # NAME ARGS...: load.py against server port $LOAD_PORT, summary in $W/load_NAME.json
	local name=$1; shift
	# shellcheck disable=SC2068
	$PY "$LOAD" --url "http://127.0.0.1:$LOAD_PORT" --json "$W/load_$name.json" $@ 2>&1 | tee "$W/load_$name.txt"
}

# finish: pack what comes back, print the headline, close the log (also on an early exit).
finish() {
	phase "packing"
	for n in 1 2; do
		[ -f "$W/record$n/events.jsonl" ] && head -n 200000 "$W/record$n/events.jsonl" | gzip -1 >"$OUT/events$n-head.jsonl.gz"
		[ -f "$W/record$n/trace.json" ] && [ "$(stat -c %s "$W/record$n/trace.json")" -gt 50000000 ] && rm -f "$W/record$n/trace.json"
	done
	tar -C "$(dirname "$W")" --exclude=events.jsonl -czf "$OUT/artifacts.tar.gz" "$(basename "$W")"
	echo
	echo "=== headline (every figure: summary.txt)"
	grep -E '^(date|kernel|gpucheck built|NVIDIA|torch device|python|CUDA Version|server [12]:|libcuda)|.*Driver Version|throughput cost|accuracy bar|^  (requests|ttft|e2e|tpot|queue|prefill|decode|batch size|[0-9]+ (statuses|classes)):|^run [12]:|^ +(figure|ttft|e2e|tpot|queue|prefill|decode) |^ +(kind|decode|prefill) +[0-9]|msg=capture|kernel launches executed|^census:|^libcuda exports|variants reached|unprobed|possible gaps|^  cu|(match|MISMATCH|no value)$|^profiler |did not|^missing' "$SUM" | cut -c1-220
	sum ""
	sum "done in ${SECONDS}s; files: $(cd "$OUT" && ls | tr '\n' ' ')"
	exec >&- 2>&-
	wait "$TEE_PID" 2>/dev/null
}

# --- versions and doctor -------------------------------------------------------------
phase "versions"
{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "kernel: $(uname -r) ($(uname -m))"
	"$GC" version
	if command -v nvidia-smi >/dev/null; then
		nvidia-smi --query-gpu=name,driver_version,memory.total,power.limit,clocks.max.sm,clocks.max.mem,pstate,persistence_mode \
			--format=csv 2>&1
		nvidia-smi 2>&1 | grep -m1 'CUDA Version' | sed 's/^[ |]*//; s/[ |]*$//'
	else
		echo "nvidia-smi: not found (no NVIDIA driver: the GPU phases are skipped)"
	fi
	command -v nvcc >/dev/null && nvcc --version | tail -n 2
	$PY -c 'import sys, torch, aiohttp
print("python", sys.version.split()[0], "torch", torch.__version__, "torch cuda", torch.version.cuda,
      "aiohttp", aiohttp.__version__)
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print("torch device:", p.name, p.multi_processor_count, "SMs", round(p.total_memory / 2**30, 1), "GiB")
else:
    print("torch device: none (CUDA not available)")' 2>&1
	echo "btf: $(ls /sys/kernel/btf/vmlinux 2>&1)"
	[ -e /sys/kernel/tracing/uprobe_events ] || mount -t tracefs nodev /sys/kernel/tracing 2>&1
	echo "tracefs uprobe_events: $(ls /sys/kernel/tracing/uprobe_events 2>&1)"
	echo "user: $(id -u)"
} 2>&1 | tee -a "$SUM"
for f in "$IP" "$GC" "$SRV" "$LOAD"; do
	[ -e "$f" ] || { sum "missing $f: run make gpu-check here and carry bin/inferprobe and bin/gpucheck"; finish; exit 1; }
done

# NVML from the loader's path, else from where NVIDIA's container images put it.
NVML_FLAG=()
if ! ldconfig -p 2>/dev/null | grep -q 'libnvidia-ml\.so\.1'; then
	for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64; do
		[ -e "$d/libnvidia-ml.so.1" ] && { NVML_FLAG=(--path.nvml "$d/libnvidia-ml.so.1"); break; }
	done
fi
sum "nvml: ${NVML_FLAG[1]:-libnvidia-ml.so.1 from the loader path}"

section "inferprobe doctor" "$IP" doctor "${NVML_FLAG[@]}"

# --- reference kernel counts (CUPTI, own process) -------------------------------------
phase "kernel counts under torch.profiler"
# shellcheck disable=SC2086
$PY "$SRV" --count-kernels --device "$DEVICE" $MODEL >"$W/kernels.json" 2>"$W/kernels.err"
tail -3 "$W/kernels.err"

# --- run 1: server 1, throughput A, record + census + mixed load, throughput with, B -----
phase "server 1 (eager decode)"
start_server 1 "$PORT1"
SP1=$SERVER_PID
LOAD_PORT=$PORT1
if ! wait_line "$W/server1.log" 'gpu testbed serving' 240 "$SP1"; then
	sum "server 1 did not start: see check.log"
	finish
	exit 1
fi
sum "server 1: $(grep -m1 'gpu testbed info' "$W/server1.log")"

phase "closed-loop load without inferprobe (A)"
load base1 $TPUT_ARGS --duration "$T_TPUT"

phase "inferprobe record --pid $SP1"
REC1=0
if start_record 1 "$SP1"; then
	REC1=1
	RP1=$RECORD_PID
fi
LIB=$(grep -m1 -o '/[^ ]*libcuda\.so[^ ]*' "/proc/$SP1/maps" 2>/dev/null)
sum "libcuda of server 1: ${LIB:-none mapped}"
FROM1=$(now)
phase "mixed load (accuracy)"
load acc1 $ACC_ARGS --duration "$T_ACC"
TO1=$(now)
if [ "$REC1" = 1 ]; then
	phase "closed-loop load with inferprobe attached"
	load with $TPUT_ARGS --duration "$T_TPUT"
fi
# The census's own uprobes (a few us a call) slow the server: it gets a load of its own,
# after the measured ones, still inside the recording.
if [ -n "$LIB" ]; then
	phase "census of libcuda's exported functions"
	if "$GC" census-start "$LIB" 2>&1 | tee -a "$SUM"; then
		CENSUS=1
		load census $ACC_ARGS --duration 10
		"$GC" census-stop --out "$W/uprobe_profile.txt" 2>&1 | tee -a "$SUM"
		CENSUS=0
	fi
fi
if [ "$REC1" = 1 ]; then
	stop "$RP1" 120
	tail -n 2 "$W/record1.err"
fi

phase "closed-loop load without inferprobe (B)"
load base2 $TPUT_ARGS --duration "$T_TPUT"

# --- NVML: the agent against nvidia-smi, and the agent's cost without launch probes --------
phase "inferprobe agent (--capture.launches off) under the closed-loop load; NVML against nvidia-smi"
{
	"$IP" agent --pid "$SP1" --capture.launches off --web.listen-address "127.0.0.1:$APORT" \
		--collector.gpu.interval 1s "${NVML_FLAG[@]}" >"$W/agent.log" 2>&1 &
	AP=$!
	PIDS+=("$AP")
	ok=0
	for _ in $(seq 100); do
		$PY -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$APORT/metrics', timeout=2)" 2>/dev/null && { ok=1; break; }
		kill -0 "$AP" 2>/dev/null || break
		sleep 0.3
	done
	if [ "$ok" = 1 ]; then
		load agent $TPUT_ARGS --duration "$T_TPUT" >/dev/null &
		LP=$!
		sleep 2
		if command -v nvidia-smi >/dev/null; then
			section "NVML figures: inferprobe agent against nvidia-smi (read together, under load)" \
				"$GC" nvml --url "http://127.0.0.1:$APORT/metrics" --samples 6 --interval 2s
		fi
		$PY -c "import urllib.request as u, sys; sys.stdout.write(u.urlopen('http://127.0.0.1:$APORT/metrics').read().decode())" >"$W/metrics.txt" 2>&1
		wait "$LP"
	else
		sum "agent did not serve /metrics: $(tail -n 3 "$W/agent.log")"
	fi
	stop "$AP" 20
}
stop "$SP1" 30

# --- run 2: a fresh server started under record (names, CUDA graphs) --------------------
phase "server 2 (CUDA graphs, --sync event) started under inferprobe record"
EXTRA=(--sync event)
[ "$DEVICE" != cpu ] && EXTRA+=(--cuda-graphs)
start_server 2 "$PORT2" "${EXTRA[@]}"
SP2=$SERVER_PID
LOAD_PORT=$PORT2
REC2=0
if start_record 2 "$SP2" --capture.rescan-interval 100ms; then
	REC2=1
	RP2=$RECORD_PID
fi
if wait_line "$W/server2.log" 'gpu testbed serving' 240 "$SP2"; then
	sum "server 2: $(grep -m1 'gpu testbed info' "$W/server2.log")"
	FROM2=$(now)
	load acc2 $ACC_ARGS --duration 15
	TO2=$(now)
else
	sum "server 2 did not start: $(tail -n 3 "$W/server2.log")"
fi
[ "$REC2" = 1 ] && stop "$RP2" 120
stop "$SP2" 30

# --- figures --------------------------------------------------------------------------
phase "figures"
section "load runs" bash -c 'for n in base1 acc1 with census base2 agent acc2; do [ -f "$1/load_$n.txt" ] && printf "%-6s %s\n" "$n" "$(grep -m1 "^load:" "$1/load_$n.txt")"; done; true' _ "$W"
section "throughput with and without inferprobe (closed loop, $TPUT_C streams, 128+128 tokens): record, every launch probed" \
	"$GC" overhead --label "record, launches on" "$W/load_with.json" "$W/load_base1.json" "$W/load_base2.json"
if [ -f "$W/load_agent.json" ]; then
	section "throughput with the agent attached, --capture.launches off (waits, copies and sockets only)" \
		"$GC" overhead --label "agent, launches off" "$W/load_agent.json" "$W/load_base1.json" "$W/load_base2.json"
fi
section "kernels per step under torch.profiler (CUPTI), batch 4, prompt 64 (full: kernels.json)" $PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("prefill", "decode"):
    s = d[k]
    print("profiler %s step: %d kernels, %d copies, %d memsets; runtime/driver calls: %s" % (
        k, s["kernels"], s["memcpy"], s["memset"], ", ".join("%s %d" % kv for kv in s["calls"].items())))' "$W/kernels.json"
for n in 1 2; do
	d=$W/record$n
	[ -d "$d" ] || continue
	section "record $n: inferprobe's own summary" cat "$W/record$n.out"
	section "record $n: capture stats" grep 'msg=capture' "$W/record$n.err"
	from=FROM$n to=TO$n
	if [ -n "${!from:-}" ]; then
		section "record $n: accuracy against the server's ground truth (requests arriving in the loaded window)" \
			"$GC" compare --title "run $n" --from "${!from}" --to "${!to}" "$W/truth$n.jsonl" "$d"
	fi
	sp=SP$n
	section "record $n: CUDA calls and socket syscalls of the server" "$GC" calls --pid "${!sp}" "$d/events.jsonl"
done
if [ -s "$W/uprobe_profile.txt" ] && [ -n "$LIB" ]; then
	"$GC" census-report "$LIB" "$W/uprobe_profile.txt" >"$W/census.txt" 2>&1
	section "census: exported cu* functions of libcuda called by server 1 under the census load (full list: census.txt)" \
		head -n 80 "$W/census.txt"
fi

finish
