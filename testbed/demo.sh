#!/usr/bin/env bash
# The built-in demo (make demo): the testbed engine (an API server process and an engine
# core process on the simulated libcuda) under load, watched from the outside by
# `inferprobe top` and then `inferprobe record`, which prints a summary and leaves
# requests.jsonl, steps.jsonl and trace.json behind. Needs root (eBPF).
set -euo pipefail
bin=${BIN:-bin}
out=${DEMO_OUT:-out/demo}
top_for=${DEMO_TOP:-8s}
record_for=${DEMO_RECORD:-10s}
mkdir -p "$out"
rm -f "$out/truth.jsonl"

port=$(( 20000 + RANDOM % 20000 ))
"$bin/testbed" engine --procs 2 --port "$port" --truth "$out/truth.jsonl" >"$out/engine.log" 2>&1 &
engine=$!
load=""
cleanup() {
	[ -n "$load" ] && kill "$load" 2>/dev/null || true
	kill "$engine" 2>/dev/null || true
	wait 2>/dev/null || true
}
trap cleanup EXIT

for _ in $(seq 100); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
	sleep 0.1
done
echo "testbed engine serving on 127.0.0.1:$port (pid $engine); sending load for 25 s"
"$bin/testbed" load --url "http://127.0.0.1:$port" --duration 25s --rate 16 --concurrency 48 \
	--prompt-tokens 32:1024 --max-tokens 16:256 --stream-frac 0.9 --overlong-frac 0.02 --max-model-len 4096 \
	--abort-frac 0.03 --burst 40@15s --out "$out/client.jsonl" 2>"$out/load.log" &
load=$!
sleep 1

echo
echo "== inferprobe top --pid $engine (for $top_for)"
"$bin/inferprobe" top --pid "$engine" --duration "$top_for"
echo
echo "== inferprobe record --pid $engine --duration $record_for --out $out"
"$bin/inferprobe" record --force --pid "$engine" --duration "$record_for" --out "$out" 2>"$out/record.log" # each run replaces the last
wait "$load" || true
load=""
echo
echo "client side (testbed load): $(tail -n 1 "$out/load.log")"
echo "records: $out/requests.jsonl, $out/steps.jsonl, $out/trace.json (open it in ui.perfetto.dev)"
