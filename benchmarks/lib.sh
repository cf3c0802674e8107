# Shared by ab.sh and syscalls.sh (sourced; NAME is the script's name for
# messages): the processes they start, killed on exit; waiting for a port;
# the agent on the ports of the run.sh run that wrote $OUT (ports.env).
pids=()
log() { echo "$NAME: $*" >&2; }
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_port() {
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
	log "port $1 did not open"; return 1
}
# shellcheck source=/dev/null
source "$OUT/ports.env"
start_agent() { # the harness agent from $OUT/bin, for an hour at most
	"$OUT/bin/agent" -plain "127.0.0.1:$AGENT_PORT" -connic "127.0.0.1:$CONNIC_PORT" \
		-wiro-api "127.0.0.1:$WIRO_API_PORT" -wiro-socket "127.0.0.1:$WIRO_SOCKET_PORT" -lifetime 1h 2>/dev/null &
	pids+=($!)
	wait_port "$AGENT_PORT"
}
