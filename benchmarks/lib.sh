# Shared by ab.sh, syscalls.sh and experiments/ (sourced; NAME is the
# script's name for messages): the processes they start, killed on exit;
# waiting for a port; the agent on the ports of the run.sh run that wrote
# $OUT (ports.env); nginx as run.sh configured it; an agentbridge build on a
# port of its own.
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
start_lib_nginx() { # nginx serving $OUT/nginx.conf on NGINX_PORT; its master's pid in nginx_pid
	mkdir -p "$OUT/nginx/logs"
	nginx -p "$OUT/nginx" -c "$OUT/nginx.conf" 2>/dev/null &
	nginx_pid=$!
	pids+=("$nginx_pid")
	wait_port "$NGINX_PORT"
	sleep 0.3 # let the workers start
}
start_build() { # name binary port prefix: the build serves $OUT/agentbridge.yaml on port; its pid in build_pid
	local cfg=$OUT/$4-$1
	sed "s/^listen: .*/listen: 127.0.0.1:$3/" "$OUT/agentbridge.yaml" >"$cfg.yaml"
	"$2" serve -config "$cfg.yaml" 2>>"$cfg.log" &
	build_pid=$!
	pids+=("$build_pid")
	wait_port "$3"
	sleep 0.2
	kill -0 "$build_pid" 2>/dev/null || { log "$1 did not start (port $3 taken? see $cfg.log; AB_PORT=...)"; exit 1; }
}
