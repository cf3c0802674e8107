#!/usr/bin/env bash
# System calls and context switches per relayed frame, for agentbridge
# builds under the same load: the figures behind "fewer reads, same CPU"
# in RESULTS.md. Unlike CPU time, these counts barely move with the noise of
# a shared machine, so they show what a change did to the work per frame
# even when its CPU figure is lost in that noise.
#
#   OUT=/tmp/ab benchmarks/run.sh --quick     # once: configs and harness binaries in $OUT
#   OUT=/tmp/ab benchmarks/syscalls.sh old=/tmp/agentbridge-old new=/tmp/agentbridge-new
#   OUT=/tmp/ab benchmarks/syscalls.sh nginx main=/tmp/agentbridge   # beside nginx
#
# Each build serves $OUT/agentbridge.yaml on its own port (18100, ... from
# AB_PORT: another run on the machine may hold 18100), runs
# alone with the agent, and is watched by perf stat (tracepoints: run as
# root, with linux-perf installed) for the middle DURATION of a load run.
# The poller's epoll call is an epoll_pwait, like the Go runtime's own, so
# the epoll_pwait column counts both (builds before 5b32aa4 made theirs an
# epoll_wait, counted apart).
# Environment: REPS (1), DURATION (3s), ROUTE (pass; trans wants
# FLAGS="... -end [END]", connic FLAGS="-mode connic ..."), FLAGS (the load
# flags, default stream64's: -c 50 -k 20 -size 64). Loopback only.
set -euo pipefail

[[ -n "${OUT:-}" && -f "$OUT/agentbridge.yaml" && -f "$OUT/ports.env" && -x "$OUT/bin/load" ]] ||
	{ echo "syscalls.sh: run OUT=dir benchmarks/run.sh --quick first, then OUT=dir benchmarks/syscalls.sh name=binary..." >&2; exit 2; }
(($# > 0)) || { echo "usage: OUT=dir benchmarks/syscalls.sh [nginx] name=binary [name=binary...]" >&2; exit 2; }
command -v perf >/dev/null || { echo "syscalls.sh: needs perf (apt-get install linux-perf)" >&2; exit 2; }
REPS=${REPS:-1} DURATION=${DURATION:-3s} ROUTE=${ROUTE:-pass}
FLAGS=${FLAGS:-"-c 50 -k 20 -size 64"}
BIN=$OUT/bin
secs=${DURATION%s}
NAME=syscalls.sh
# shellcheck source=benchmarks/lib.sh
source "$(dirname "$0")/lib.sh"
start_agent

events=raw_syscalls:sys_enter,syscalls:sys_enter_read,syscalls:sys_enter_write,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_writev,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_futex,syscalls:sys_enter_nanosleep,sched:sched_switch
field() { grep -o "\"$1\":[0-9.e+-]*" | head -1 | cut -d: -f2; }
for rep in $(seq "$REPS"); do
	port=${AB_PORT:-18100}
	for arg in "$@"; do
		name=${arg%%=*} bin=${arg#*=} flags=$FLAGS
		if [[ $arg == nginx ]]; then
			# nginx as run.sh configures it (its port from ports.env), watched with its workers.
			start_lib_nginx
			pid=$nginx_pid
			watch="$pid,$(pgrep -P "$pid" | paste -sd,)" url=ws://127.0.0.1:$NGINX_PORT/
			flags=$(sed 's/-mode [a-z]*//; s/-end [^ ]*//' <<<"$FLAGS") # nginx relays the agent's plain route
		else
			start_build "$name" "$bin" $port sc
			pid=$build_pid watch=$build_pid url=ws://127.0.0.1:$port/$ROUTE
		fi
		# The load runs a second longer than perf watches, half a second
		# each side, so start-up and wind-down are not counted.
		# shellcheck disable=SC2086
		timeout 120 "$BIN/load" -url "$url" -pids "$watch" -duration "$((secs + 1))s" $flags >"$OUT/sc.json" &
		lp=$!
		sleep 0.5
		perf stat -x, -e "$events" -p "$watch" -o "$OUT/sc-perf.txt" -- sleep "$secs" >/dev/null 2>&1
		wait "$lp"
		kill "$pid"
		wait "$pid" 2>/dev/null || true
		fps=$(field FramesPerS <"$OUT/sc.json") cpu=$(field ProxyCPUUsPerFrame <"$OUT/sc.json")
		# Frames in the watched span, from the run's rate.
		awk -F, -v fps="$fps" -v secs="$secs" -v name="$name" -v rep="$rep" -v cpu="$cpu" '
			$1 ~ /^[0-9.]+$/ { n = $3; sub(/.*:/, "", n); sub(/^sys_enter_?/, "", n); if (n == "") n = "syscalls"; c[n] = $1 }
			END {
				f = fps * secs
				printf "rep %s %-8s %8.0f frames/s %5.2f µs/frame  per frame:", rep, name, fps, cpu
				split("syscalls read write recvfrom sendto writev epoll_wait epoll_pwait futex nanosleep sched_switch", k, " ")
				for (i = 1; i <= 11; i++) printf " %s %.3f", k[i], c[k[i]] / f
				printf "\n"
			}' "$OUT/sc-perf.txt"
		port=$((port + 1))
	done
done
