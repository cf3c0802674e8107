#!/usr/bin/env bash
# A/B of agentbridge builds' idle memory, interleaved: every repetition
# starts each build afresh (and a fresh agent) and opens N idle connections
# on ROUTE with the idle tool, as run.sh's idle scenario does; the figures
# are resident KiB per connection after the handshake and after one message
# and its reply, and the build's allocations per connection set-up
# (upgrade and backend dial, from its expvar).
#
#   OUT=/tmp/ab benchmarks/run.sh --quick     # once: configs and harness binaries in $OUT
#   OUT=/tmp/ab ROUTE=connic MODE=connic benchmarks/idle-ab.sh old=/tmp/agentbridge-old new=/tmp/agentbridge-new
#
# Environment: REPS (3), N (5000), SETTLE (1s), ROUTE (echo: a relay),
# MODE (plain; connic, agents: the idle tool's client dialect), AB_PORT
# (18100). Loopback only, like the harness.
set -euo pipefail

[[ -n "${OUT:-}" && -f "$OUT/agentbridge.yaml" && -f "$OUT/ports.env" && -x "$OUT/bin/idle" ]] ||
	{ echo "idle-ab.sh: run OUT=dir benchmarks/run.sh --quick first, then OUT=dir benchmarks/idle-ab.sh name=binary..." >&2; exit 2; }
(($# > 0)) || { echo "usage: OUT=dir benchmarks/idle-ab.sh name=binary [name=binary...]" >&2; exit 2; }
REPS=${REPS:-3} N=${N:-5000} SETTLE=${SETTLE:-1s} ROUTE=${ROUTE:-echo} MODE=${MODE:-plain}
BIN=$OUT/bin
NAME=idle-ab.sh
# shellcheck source=benchmarks/lib.sh
source "$(dirname "$0")/lib.sh"
port=${AB_PORT:-18100}

field() { grep -o "\"$1\":[0-9.e+-]*" | head -1 | cut -d: -f2; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END{print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
declare -A hs msg al
names=()
for arg in "$@"; do names+=("${arg%%=*}"); done
for rep in $(seq "$REPS"); do
	for arg in "$@"; do
		name=${arg%%=*} bin=${arg#*=}
		start_agent
		start_build "$name" "$bin" "$port" idle
		line=$(timeout 180 "$BIN/idle" -url "ws://127.0.0.1:$port/$ROUTE" -mode "$MODE" -pids "$build_pid" -n "$N" -settle "$SETTLE" \
			-expvar "http://127.0.0.1:$port/debug/vars" -target "$name" -rep "$rep")
		h=$(field KiBPerConnHandshake <<<"$line") m=$(field KiBPerConnMessage <<<"$line") e=$(field Errors <<<"$line")
		a=$(field AllocsPerConnSetup <<<"$line")
		[[ ${e:-0} == 0 ]] || log "rep $rep $name: $e errors"
		hs[$name]+="$h " msg[$name]+="$m " al[$name]+="${a:-0} "
		printf 'rep %s %-8s KiB/conn after handshake %6.2f, after one message %6.2f; allocations per set-up %6.1f\n' "$rep" "$name" "$h" "$m" "${a:-0}"
		cleanup
		pids=()
	done
done
echo
for n in "${names[@]}"; do
	printf '%-8s KiB/conn after handshake %-24s median %.2f; after one message %-24s median %.2f; allocations per set-up median %.1f\n' \
		"$n" "${hs[$n]}" "$(median <<<"${hs[$n]}")" "${msg[$n]}" "$(median <<<"${msg[$n]}")" "$(median <<<"${al[$n]}")"
done
