#!/usr/bin/env bash
# A/B of agentbridge builds beside nginx, interleaved: the method behind the
# "what changed" and "tried and not kept" figures in RESULTS.md. On these
# shared machines only figures from one run compare, so every repetition
# runs the load once against nginx and once against each build, in turn, and
# each build's CPU per frame is also given as a ratio to nginx's in the same
# repetition.
#
#   OUT=/tmp/ab benchmarks/run.sh --quick     # once: configs and harness binaries in $OUT
#   OUT=/tmp/ab benchmarks/ab.sh old=/tmp/agentbridge-old new=/tmp/agentbridge-new
#
# Each build serves $OUT/agentbridge.yaml on its own port (18100, 18101, ...,
# from AB_PORT: another run on the machine may hold 18100);
# nginx serves $OUT/nginx.conf and the agent $OUT/bin/agent, as in run.sh,
# and HAProxy $OUT/haproxy.cfg when run.sh wrote one and haproxy is
# installed (HAPROXY=0: without it). Each row also gives the first-frame
# latency p50 and p99 (medians over the repetitions): with paced FLAGS
# (-interval, -think) that is the time to first token.
# Environment: REPS (5), DURATION (3s), ROUTE (pass; trans wants
# FLAGS="... -end [END]", connic FLAGS="-mode connic ..."), FLAGS (the load
# flags, default stream64's: -c 50 -k 20 -size 64; paced: add -c 100
# -interval 2ms). Loopback only, like the harness.
set -euo pipefail

[[ -n "${OUT:-}" && -f "$OUT/agentbridge.yaml" && -f "$OUT/ports.env" && -x "$OUT/bin/load" ]] ||
	{ echo "ab.sh: run OUT=dir benchmarks/run.sh --quick first, then OUT=dir benchmarks/ab.sh name=binary..." >&2; exit 2; }
(($# > 0)) || { echo "usage: OUT=dir benchmarks/ab.sh name=binary [name=binary...]" >&2; exit 2; }
REPS=${REPS:-5} DURATION=${DURATION:-3s} ROUTE=${ROUTE:-pass}
FLAGS=${FLAGS:-"-c 50 -k 20 -size 64"}
BIN=$OUT/bin
NAME=ab.sh
# shellcheck source=benchmarks/lib.sh
source "$(dirname "$0")/lib.sh"
start_agent
names=(nginx) urls=(ws://127.0.0.1:$NGINX_PORT/) watch=()
start_lib_nginx
watch+=("$nginx_pid,$(pgrep -P "$nginx_pid" | paste -sd,)")
if [[ ${HAPROXY:-1} == 1 && -f $OUT/haproxy.cfg && -n ${HAPROXY_PORT:-} ]] && command -v haproxy >/dev/null; then
	haproxy -db -f "$OUT/haproxy.cfg" 2>/dev/null &
	hp=$!
	pids+=("$hp")
	wait_port "$HAPROXY_PORT"
	names+=(haproxy) urls+=("ws://127.0.0.1:$HAPROXY_PORT/") watch+=("$hp")
fi
port=${AB_PORT:-18100}
for arg in "$@"; do
	name=${arg%%=*} bin=${arg#*=}
	start_build "$name" "$bin" $port ab
	names+=("$name") urls+=("ws://127.0.0.1:$port/$ROUTE") watch+=("$build_pid")
	port=$((port + 1))
done

field() { grep -o "\"$1\":[0-9.e+-]*" | head -1 | cut -d: -f2; }
declare -A cpu fps ratio f50 f99
for rep in $(seq "$REPS"); do
	ngcpu=
	for i in "${!names[@]}"; do
		flags=$FLAGS
		[[ ${names[$i]} == nginx || ${names[$i]} == haproxy ]] && flags=$(sed 's/-mode [a-z]*//; s/-end [^ ]*//' <<<"$FLAGS") # they relay the agent's plain route
		# shellcheck disable=SC2086
		line=$(timeout 120 "$BIN/load" -url "${urls[$i]}" -pids "${watch[$i]}" -duration "$DURATION" $flags)
		c=$(field ProxyCPUUsPerFrame <<<"$line") f=$(field FramesPerS <<<"$line") e=$(field Errors <<<"$line")
		[[ $e == 0 ]] || log "rep $rep ${names[$i]}: $e errors"
		n=${names[$i]}
		c=$(printf '%.2f' "$c")
		cpu[$n]+="$c " fps[$n]+="${f%.*} "
		f50[$n]+="$(field FirstP50Us <<<"$line") " f99[$n]+="$(field FirstP99Us <<<"$line") "
		if [[ $n == nginx ]]; then ngcpu=$c; else ratio[$n]+="$(awk -v a="$c" -v b="$ngcpu" 'BEGIN{printf "%.2f", a/b}') "; fi
		printf 'rep %s %-8s %8.0f frames/s %6s µs/frame first frame p50 %6.0f p99 %6.0f µs\n' "$rep" "$n" "$f" "$c" \
			"$(field FirstP50Us <<<"$line")" "$(field FirstP99Us <<<"$line")"
	done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END{print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
echo
for n in "${names[@]}"; do
	printf '%-8s CPU µs/frame %-40s median %s; frames/s median %s' "$n" "${cpu[$n]}" "$(median <<<"${cpu[$n]}")" "$(median <<<"${fps[$n]}")"
	[[ $n == nginx ]] || printf '; ratio to nginx %s median %s' "${ratio[$n]}" "$(median <<<"${ratio[$n]}")"
	printf '; first frame µs p50 %s median %.0f, p99 median %.0f' "${f50[$n]}" "$(median <<<"${f50[$n]}")" "$(median <<<"${f99[$n]}")"
	echo
done
