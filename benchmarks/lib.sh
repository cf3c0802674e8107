# Shared by ab.sh and syscalls.sh (sourced; NAME is the script's name for
# messages): the processes they start, killed on exit; waiting for a port;
# the agent on its usual ports (plain 19000, Connic 19001, Wiro 19002/19003).
pids=()
log() { echo "$NAME: $*" >&2; }
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_port() {
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
	log "port $1 did not open"; return 1
}
start_agent() { # the harness agent from $OUT/bin, for an hour at most
	"$OUT/bin/agent" -plain 127.0.0.1:19000 -connic 127.0.0.1:19001 -lifetime 1h 2>/dev/null &
	pids+=($!)
	wait_port 19000
}
