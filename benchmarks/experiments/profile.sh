#!/usr/bin/env bash
# CPU profiles (perf record -g) of nginx and agentbridge builds under the
# same load: where the CPU per frame goes, kernel against user space
# (RESULTS.md, 2026-12-04, "One epoll instance per P"). Each target runs
# the load for 8 s and is recorded for the middle 4 s at 2 kHz, into
# /tmp/prof-<name>.data; then, for instance,
#   perf report -i /tmp/prof-NAME.data --no-children -g none --sort dso
#   perf report -i /tmp/prof-NAME.data --no-children -g none --dsos agentbridge --sort sym
# Needs perf, as root. Loopback only.
#
#   OUT=/tmp/ab benchmarks/run.sh --quick     # once: configs and harness binaries in $OUT
#   OUT=/tmp/ab benchmarks/experiments/profile.sh cur=/tmp/agentbridge
# Environment: FLAGS (the load's; default the paced scenario's), ROUTE
# (pass), AB_PORT (18750), SKIPNGINX=1 (builds only).
set -euo pipefail
[[ -n "${OUT:-}" && -f "$OUT/agentbridge.yaml" && -x "$OUT/bin/load" ]] ||
	{ echo "profile.sh: run OUT=dir benchmarks/run.sh --quick first" >&2; exit 2; }
BIN=$OUT/bin
NAME=profile.sh
# shellcheck source=benchmarks/lib.sh
source "$(dirname "$0")/../lib.sh"
start_agent
FLAGS=${FLAGS:-"-c 100 -k 20 -size 64 -interval 2ms"}
prof() { # name url pids flags
	# shellcheck disable=SC2086
	timeout 60 "$BIN/load" -url "$2" -pids "$3" -duration 8s $4 >"/tmp/prof-$1.load" &
	local lp=$!
	sleep 2
	perf record -F 2000 -g -o "/tmp/prof-$1.data" -p "$3" -- sleep 4 >/dev/null 2>&1
	wait $lp
	echo "$1: $(grep -o '"ProxyCPUUsPerFrame":[0-9.]*' "/tmp/prof-$1.load")"
}
if [[ -z ${SKIPNGINX:-} ]]; then
	start_lib_nginx
	prof nginx "ws://127.0.0.1:$NGINX_PORT/" "$nginx_pid,$(pgrep -P "$nginx_pid" | paste -sd,)" "$(sed 's/-mode [a-z]*//' <<<"$FLAGS")"
fi
port=${AB_PORT:-18750}
for arg in "$@"; do
	name=${arg%%=*} bin=${arg#*=}
	start_build "$name" "$bin" $port pr
	prof "$name" "ws://127.0.0.1:$port/${ROUTE:-pass}" "$build_pid" "$FLAGS"
	port=$((port + 1))
done
