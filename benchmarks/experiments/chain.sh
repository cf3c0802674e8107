#!/usr/bin/env bash
# The one-connection chain per frame (RESULTS.md, 2026-12-04) for
# agentbridge builds in turn: each serves $OUT/agentbridge.yaml on its own
# port (from AB_PORT, default 18320) alone with the agent, under a sparse
# paced load of one connection; perf records its system calls and
# scheduler events for 6 s, and hops.py reports the chain. Needs perf, as
# root. Loopback only.
#
#   OUT=/tmp/ab benchmarks/run.sh --quick     # once
#   OUT=/tmp/ab benchmarks/experiments/chain.sh base=/tmp/ab-base try=/tmp/ab-try
set -euo pipefail
[[ -n "${OUT:-}" && -f "$OUT/agentbridge.yaml" && -x "$OUT/bin/load" ]] ||
	{ echo "chain.sh: run OUT=dir benchmarks/run.sh --quick first" >&2; exit 2; }
NAME=chain.sh
# shellcheck source=benchmarks/lib.sh
source "$(dirname "$0")/../lib.sh"
hops=$(dirname "$0")/hops.py
start_agent
port=${AB_PORT:-18320}
for arg in "$@"; do
	name=${arg%%=*} bin=${arg#*=}
	start_build "$name" "$bin" $port ch
	pid=$build_pid
	"$OUT/bin/load" -url "ws://127.0.0.1:$port/${ROUTE:-pass}" -c 1 -k 40 -size 64 -minsize 4 -interval 10ms \
		-think 150ms -gap 300ms -warmup 1 -duration 8s -pids $pid >"$OUT/ch-$name.json" &
	lp=$!
	sleep 1
	perf record -q -o "$OUT/ch-$name.data" -e raw_syscalls:sys_enter,raw_syscalls:sys_exit,sched:sched_switch,sched:sched_wakeup \
		-p $pid -- sleep 6 >/dev/null 2>&1
	wait $lp
	kill $pid
	wait $pid 2>/dev/null || true
	perf script -i "$OUT/ch-$name.data" 2>/dev/null | python3 "$hops" "$name" 2 100
	port=$((port + 1))
done
