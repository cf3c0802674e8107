#!/usr/bin/env bash
# Side-by-side benchmark: direct agent | nginx | HAProxy | agentbridge
# (passthrough and translating), on 127.0.0.1 only. Scenarios and method follow
# shared/reference/performance.md: medians of REPS interleaved repetitions,
# ratios against direct within the same repetition, proxy CPU per frame from
# /proc/PID/stat, idle RSS per connection on freshly started processes.
#
#   benchmarks/run.sh            # full suite, ~25 minutes on 2 vCPU (slow1k and slow5k: ~16)
#   benchmarks/run.sh --quick    # smoke run for CI: a few seconds after the build
#
# Environment: REPS (3), DURATION per load run (3s), SLOW_DURATION (10s: the
# window of the slow-stream scenarios), IDLE_N (5000), SCENARIOS, TARGETS,
# SLOW_TARGETS (the targets of the slow-stream scenarios), OUT (results
# directory), PROFILE=1 (perf profile of agentbridge under stream64 after
# the suite, when perf works).
# Scenarios: stream64, stream1k (saturated 64 B / 1 KiB streams), stream64-pipe
# (pipelined), stream64-paced (100 streams, chunks 2 ms apart), echo-c1,
# echo-c50 (request/response), and the agent-traffic ones: slow1k and slow5k,
# many slow streams: 1,000 or 5,000 connections, each turn a reply of 200
# chunks of 4 to 64 bytes at 30 chunks/s after a 200 ms "thinking" pause,
# turns spaced by a random pause (mean 3 s for 1,000, 25 s for 5,000, so
# that about 20k and 30k frames/s are offered); each slow target runs on
# fresh processes (its RSS growth per connection is measured while
# streaming). slow-smoke is a tiny one for --quick.
# Targets: direct (the agent), nginx (worker_processes auto, i.e. master + one
# worker per CPU as in performance.md), haproxy (HAProxy from Debian, one
# process, a thread per CPU, mode http: WebSockets tunnelled after the 101),
# go-tunnel (the Go yardstick: a bare
# byte-copying proxy, goroutine per direction), ab-pass (plain<->plain passthrough),
# ab-trans (plain stream client with its own end marker: decoded and
# re-encoded), ab-connic (Connic client -> plain chunked backend),
# ab-connic-wiro (Connic delta client -> Wiro accumulated-text backend: REST
# send and a shared subscription socket) and ab-wiro-connic (Wiro client:
# REST send then subscribe, accumulated text -> Connic delta backend) and
# ab-openhands (OpenHands' Socket.IO UI client, oh_user_action -> the plain
# chunked backend; the reply goes out as one agent message: OpenHands does
# not stream), ab-agents (Cloudflare Agents SDK chat client, cf_agent_use_chat_request ->
# the plain chunked backend, as ab-connic; replies as text-delta frames).
# Prints the markdown summary; raw JSON lines are in $OUT/results.jsonl.
set -euo pipefail

cd "$(dirname "$0")/.."
QUICK=0
[[ "${1:-}" == "--quick" ]] && QUICK=1

if ((QUICK)); then
	REPS=${REPS:-1} DURATION=${DURATION:-0.5s} IDLE_N=${IDLE_N:-100} SETTLE=${SETTLE:-0.2s}
	SCENARIOS=${SCENARIOS:-"stream64 echo-c1 slow-smoke"} SLOW_DURATION=${SLOW_DURATION:-0.5s}
else
	REPS=${REPS:-3} DURATION=${DURATION:-3s} IDLE_N=${IDLE_N:-5000} SETTLE=${SETTLE:-1s}
	SCENARIOS=${SCENARIOS:-"stream64 stream1k stream64-pipe stream64-paced echo-c1 echo-c50 slow1k slow5k"}
	SLOW_DURATION=${SLOW_DURATION:-10s}
fi
TARGETS=${TARGETS:-"direct nginx haproxy go-tunnel ab-pass ab-trans ab-connic ab-connic-wiro ab-wiro-connic ab-agents ab-openhands"}
SLOW_TARGETS=${SLOW_TARGETS:-"direct nginx haproxy ab-pass ab-connic ab-wiro-connic ab-agents"}
IDLE_TARGETS=${IDLE_TARGETS:-"direct nginx haproxy ab-pass ab-connic ab-agents"}
# 5,000 connections through a proxy: 10,000 descriptors in the proxy.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
OUT=${OUT:-/tmp/agentbridge-bench/$(date +%Y%m%d-%H%M%S)}
# Ports free on 127.0.0.1 a moment ago, each asked of the kernel: fixed
# ports collide with whatever else runs on a shared machine.
free_ports() { # n
	/usr/bin/python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}
read -r AGENT_PORT CONNIC_PORT WIRO_API_PORT WIRO_SOCKET_PORT NGINX_PORT AB_PORT TUNNEL_PORT HAPROXY_PORT <<<"$(free_ports 8)"
BIN=$OUT/bin
mkdir -p "$BIN" "$OUT/nginx/logs"
# ab.sh and syscalls.sh reuse this run's configurations: they read its ports.
printf 'AGENT_PORT=%s CONNIC_PORT=%s WIRO_API_PORT=%s WIRO_SOCKET_PORT=%s NGINX_PORT=%s HAPROXY_PORT=%s\n' \
	"$AGENT_PORT" "$CONNIC_PORT" "$WIRO_API_PORT" "$WIRO_SOCKET_PORT" "$NGINX_PORT" "$HAPROXY_PORT" >"$OUT/ports.env"
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

log() { echo "run.sh: $(date +%T) $*" >&2; }

# --- nginx ----------------------------------------------------------------
HAVE_NGINX=1
if ! command -v nginx >/dev/null 2>&1; then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		log "installing nginx-light from Debian"
		timeout 300 apt-get install -y nginx-light >/dev/null 2>&1 ||
			{ timeout 300 apt-get update >/dev/null 2>&1 && timeout 300 apt-get install -y nginx-light >/dev/null 2>&1; } || true
	fi
	command -v nginx >/dev/null 2>&1 || { log "nginx unavailable: skipping the nginx target"; HAVE_NGINX=0; }
fi
((HAVE_NGINX)) || { TARGETS=${TARGETS//nginx/}; IDLE_TARGETS=${IDLE_TARGETS//nginx/}; }

cat >"$OUT/nginx.conf" <<EOF
# WebSocket reverse proxy, loopback only; worker_processes auto as in performance.md.
daemon off;
master_process on;
worker_processes auto;
worker_rlimit_nofile 20000;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/logs/error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    client_body_temp_path $OUT/nginx/body;
    proxy_temp_path $OUT/nginx/proxy;
    fastcgi_temp_path $OUT/nginx/fastcgi;
    uwsgi_temp_path $OUT/nginx/uwsgi;
    scgi_temp_path $OUT/nginx/scgi;
    map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://127.0.0.1:$AGENT_PORT;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }
    }
}
EOF

# --- HAProxy ----------------------------------------------------------------
HAVE_HAPROXY=1
if [[ " $TARGETS $IDLE_TARGETS " == *" haproxy "* ]] && ! command -v haproxy >/dev/null 2>&1; then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		log "installing haproxy from Debian"
		timeout 300 apt-get install -y haproxy >/dev/null 2>&1 ||
			{ timeout 300 apt-get update >/dev/null 2>&1 && timeout 300 apt-get install -y haproxy >/dev/null 2>&1; } || true
	fi
fi
command -v haproxy >/dev/null 2>&1 || HAVE_HAPROXY=0
if ! ((HAVE_HAPROXY)) && [[ " $TARGETS $IDLE_TARGETS " == *" haproxy "* ]]; then
	log "haproxy unavailable (apt-get install haproxy): skipping the haproxy target"
fi
((HAVE_HAPROXY)) || { TARGETS=${TARGETS//haproxy/}; SLOW_TARGETS=${SLOW_TARGETS//haproxy/}; IDLE_TARGETS=${IDLE_TARGETS//haproxy/}; }

# One process, nbthread = CPUs (HAProxy's default), mode http: the upgrade
# is relayed, then the connection is a tunnel. maxconn fits the nofile limit
# (two descriptors per proxied connection).
cat >"$OUT/haproxy.cfg" <<EOF
global
    maxconn 9000
    pidfile $OUT/haproxy.pid
defaults
    mode http
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
frontend ws
    bind 127.0.0.1:$HAPROXY_PORT
    default_backend agent
backend agent
    server agent 127.0.0.1:$AGENT_PORT
EOF

# --- agentbridge config -----------------------------------------------------
S='session: {streaming: true, max_messages: -1}'
write_ab_config() { # limits-line
	cat >"$OUT/agentbridge.yaml" <<EOF
version: 1
listen: 127.0.0.1:$AB_PORT
log: {level: warn}
limits: {$1}
$2
auth:
  keys: {type: secret, secrets: ["bench-key"]}
backends:
  agent:  {dialect: plain, url: "ws://127.0.0.1:$AGENT_PORT/"}
  stream: {dialect: plain, url: "ws://127.0.0.1:$AGENT_PORT/", chunked: true, end_marker: "[DONE]"}
  connic: {dialect: connic, url: "ws://127.0.0.1:$CONNIC_PORT/", secret: "bench-backend-secret", secret_in: header}
  wiro:   {dialect: wiro, api_url: "http://127.0.0.1:$WIRO_API_PORT/v1", socket_url: "ws://127.0.0.1:$WIRO_SOCKET_PORT/v1", api_key: "bench-backend-key", useragent_guid: "bench"}
routes:
  - {path: /pass,  dialect: plain,  auth: none, backend: stream, reply: stream, end_marker: "[DONE]", $S}
  - {path: /trans, dialect: plain,  auth: none, backend: stream, reply: stream, end_marker: "[END]", $S}
  - {path: /echo,  dialect: plain,  auth: none, backend: agent, reply: whole, $S}
  - {path: /connic, dialect: connic, auth: none, backend: stream, $S}
  - {path: /connic-wiro, dialect: connic, auth: none, backend: wiro, $S}
  - {path: /wiro, dialect: wiro, auth: [keys], backend: connic, $S}
  - {path: /agents-bench/:agent/:name, dialect: agents, auth: none, backend: stream, $S}
  - {path: /oh-bench/socket.io, dialect: openhands, auth: none, backend: stream, $S}
EOF
}

# --- build -----------------------------------------------------------------
log "building into $BIN"
go build -o "$BIN/agentbridge" ./cmd/agentbridge
for p in agent load idle summarize tunnel; do go build -o "$BIN/$p" "./benchmarks/harness/$p"; done
# Builds with per-connection rate and connection-count limits get them raised
# out of the benchmark's way; older builds refuse those keys, so fall back.
# Builds that serve expvar (debug: {expvar: true}) let the load tool count
# the proxy's allocations per frame.
write_ab_config "max_message: 1MiB, message_rate: 1000000, message_burst: 1000000, max_connections: 20000" "debug: {expvar: true}"
"$BIN/agentbridge" validate -config "$OUT/agentbridge.yaml" >/dev/null

# --- processes -------------------------------------------------------------
AGENT_PID= NGINX_PID= AB_PID= TUNNEL_PID= HAPROXY_PID=
wait_port() { # port pid logfile: wait up to 5 s for the process's listener
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	log "port $1 did not open; the process's last words ($3):"
	tail -n 5 "$3" >&2 || true
	exit 1
}
stop() { # pid...: TERM, wait up to 5 s, then KILL
	local p
	for p in "$@"; do
		[[ -n $p ]] || continue
		kill "$p" 2>/dev/null || continue
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}
start_agent() {
	"$BIN/agent" -plain 127.0.0.1:$AGENT_PORT -connic 127.0.0.1:$CONNIC_PORT \
		-wiro-api 127.0.0.1:$WIRO_API_PORT -wiro-socket 127.0.0.1:$WIRO_SOCKET_PORT -lifetime 30m 2>>"$OUT/agent.log" &
	AGENT_PID=$!
	wait_port $AGENT_PORT $AGENT_PID "$OUT/agent.log"
}
start_nginx() {
	nginx -p "$OUT/nginx" -c "$OUT/nginx.conf" 2>>"$OUT/nginx/logs/stderr.log" &
	NGINX_PID=$!
	wait_port $NGINX_PORT $NGINX_PID "$OUT/nginx/logs/stderr.log"
	sleep 0.2 # let the workers start
}
start_haproxy() {
	haproxy -db -f "$OUT/haproxy.cfg" 2>>"$OUT/haproxy.log" &
	HAPROXY_PID=$!
	wait_port $HAPROXY_PORT $HAPROXY_PID "$OUT/haproxy.log"
}
start_tunnel() {
	"$BIN/tunnel" -listen 127.0.0.1:$TUNNEL_PORT -backend ws://127.0.0.1:$AGENT_PORT/ -lifetime 30m 2>>"$OUT/tunnel.log" &
	TUNNEL_PID=$!
	wait_port $TUNNEL_PORT $TUNNEL_PID "$OUT/tunnel.log"
}
start_ab() {
	"$BIN/agentbridge" serve -config "$OUT/agentbridge.yaml" 2>>"$OUT/agentbridge.log" &
	AB_PID=$!
	wait_port $AB_PORT $AB_PID "$OUT/agentbridge.log"
}
stop_all() {
	stop "$AB_PID" "$TUNNEL_PID" "$HAPROXY_PID" "$NGINX_PID" "$AGENT_PID"
	AB_PID= TUNNEL_PID= HAPROXY_PID= NGINX_PID= AGENT_PID=
}
# start_all starts the agent and every proxy the targets need.
start_all() {
	start_agent
	((HAVE_NGINX)) && start_nginx
	[[ " $TARGETS " == *" haproxy "* ]] && start_haproxy
	[[ " $TARGETS " == *" go-tunnel "* ]] && start_tunnel
	start_ab
}
# start_for starts the agent and the one proxy target t needs (fresh
# processes: the slow-stream scenarios measure memory per connection).
start_for() { # target
	start_agent
	case $1 in
	nginx) start_nginx ;;
	haproxy) start_haproxy ;;
	go-tunnel) start_tunnel ;;
	ab-*) start_ab ;;
	esac
}
trap stop_all EXIT
nginx_pids() { echo "$NGINX_PID $(pgrep -P "$NGINX_PID" | tr '\n' ' ')" | xargs | tr ' ' ','; }

# target -> "url mode pids end" for load runs (echo uses /echo on agentbridge)
target_args() { # target echo(0|1)
	case $1 in
	direct) echo "ws://127.0.0.1:$AGENT_PORT/ plain $AGENT_PID [DONE]" ;;
	nginx) echo "ws://127.0.0.1:$NGINX_PORT/ plain $(nginx_pids) [DONE]" ;;
	haproxy) echo "ws://127.0.0.1:$HAPROXY_PORT/ plain $HAPROXY_PID [DONE]" ;;
	go-tunnel) echo "ws://127.0.0.1:$TUNNEL_PORT/ plain $TUNNEL_PID [DONE]" ;;
	ab-pass) if (($2)); then echo "ws://127.0.0.1:$AB_PORT/echo plain $AB_PID [DONE]"; else echo "ws://127.0.0.1:$AB_PORT/pass plain $AB_PID [DONE]"; fi ;;
	ab-trans) echo "ws://127.0.0.1:$AB_PORT/trans plain $AB_PID [END]" ;;
	ab-connic) echo "ws://127.0.0.1:$AB_PORT/connic connic $AB_PID -" ;;
	ab-connic-wiro) echo "ws://127.0.0.1:$AB_PORT/connic-wiro connic $AB_PID -" ;;
	ab-wiro-connic) echo "ws://127.0.0.1:$AB_PORT/wiro wiro $AB_PID -" ;;
	ab-agents) echo "ws://127.0.0.1:$AB_PORT/agents-bench/bench/room-{conn} agents $AB_PID -" ;;
	ab-openhands) echo "ws://127.0.0.1:$AB_PORT/oh-bench/socket.io/?conversation_id=bench-{run}-{conn}&latest_event_id=-1&EIO=4&transport=websocket openhands $AB_PID -" ;;
	esac
}
scenario_flags() {
	case $1 in
	stream64) echo "-c 50 -k 20 -size 64" ;;
	stream1k) echo "-c 50 -k 20 -size 1024" ;;
	stream64-pipe) echo "-c 10 -k 20 -size 64 -depth 8" ;;
	stream64-paced) echo "-c 100 -k 20 -size 64 -interval 2ms" ;;
	echo-c1) echo "-c 1 -echo -size 128" ;;
	echo-c50) echo "-c 50 -echo -size 128" ;;
	slow1k) echo "-c 1000 -k 200 -size 64 -minsize 4 -interval 33333us -think 200ms -gap 3s -warmup 1" ;;
	slow5k) echo "-c 5000 -k 200 -size 64 -minsize 4 -interval 33333us -think 200ms -gap 25s -warmup 1" ;;
	slow-smoke) echo "-c 20 -k 10 -size 64 -minsize 4 -interval 10ms -think 20ms -gap 100ms -warmup 1" ;;
	*) log "unknown scenario $1"; return 1 ;;
	esac
}

# --- load scenarios, interleaved --------------------------------------------
for rep in $(seq "$REPS"); do
	start_all
	for sc in $SCENARIOS; do
		flags=$(scenario_flags "$sc")
		echo_=0 slow=0 targets=$TARGETS dur=$DURATION
		[[ $sc == echo-* ]] && echo_=1
		[[ $sc == slow* ]] && slow=1 targets=$SLOW_TARGETS dur=$SLOW_DURATION
		for t in $targets; do
			[[ " $TARGETS " == *" $t "* ]] || continue
			if ((slow)); then
				stop_all
				start_for "$t"
			fi
			# Echo is one message per reply: same shape through every route, so
			# only direct, nginx and the passthrough run it. A Wiro client
			# streams one request at a time (REST send, then subscribe), and
			# so does an OpenHands client (its events name no request).
			((echo_)) && [[ $t == ab-* && $t != ab-pass ]] && continue
			[[ ($t == ab-wiro-connic || $t == ab-openhands) && $sc == *-pipe ]] && continue
			read -r url mode pids end <<<"$(target_args "$t" $echo_)"
			log "rep $rep $sc $t"
			ev=
			[[ $t == ab-* ]] && ev="-expvar http://127.0.0.1:$AB_PORT/debug/vars"
			# shellcheck disable=SC2086
			timeout 180 "$BIN/load" -url "$url" -mode "$mode" -pids "$pids" -end "$end" $flags $ev \
				-duration "$dur" -scenario "$sc" -target "$t" -rep "$rep" >>"$RESULTS" ||
				log "load failed: rep $rep $sc $t"
		done
		if ((slow)); then
			stop_all
			start_all
		fi
	done
	stop_all

	# --- idle: fresh processes for every target and repetition ---
	for t in $IDLE_TARGETS; do
		start_agent
		case $t in
		direct) url=ws://127.0.0.1:$AGENT_PORT/ mode=plain pids=$AGENT_PID ;;
		nginx) start_nginx; url=ws://127.0.0.1:$NGINX_PORT/ mode=plain pids=$(nginx_pids) ;;
		haproxy) start_haproxy; url=ws://127.0.0.1:$HAPROXY_PORT/ mode=plain pids=$HAPROXY_PID ;;
		ab-pass) start_ab; url=ws://127.0.0.1:$AB_PORT/echo mode=plain pids=$AB_PID ;;
		ab-connic) start_ab; url=ws://127.0.0.1:$AB_PORT/connic mode=connic pids=$AB_PID ;;
		ab-agents) start_ab; url=ws://127.0.0.1:$AB_PORT/agents-bench/bench/room-{conn} mode=agents pids=$AB_PID ;;
		*) stop_all; continue ;;
		esac
		log "rep $rep idle $t (n=$IDLE_N)"
		ev=
		[[ $t == ab-* ]] && ev="-expvar http://127.0.0.1:$AB_PORT/debug/vars"
		# shellcheck disable=SC2086
		timeout 180 "$BIN/idle" -url "$url" -mode "$mode" -pids "$pids" -n "$IDLE_N" -settle "$SETTLE" $ev \
			-target "$t" -rep "$rep" >>"$RESULTS" || log "idle failed: rep $rep $t"
		stop_all
	done
done

# --- optional CPU profile of agentbridge under stream64 ------------------------
if [[ "${PROFILE:-0}" == 1 ]] && perf stat -e instructions true >/dev/null 2>&1; then
	start_agent
	start_ab
	timeout 60 "$BIN/load" -url "ws://127.0.0.1:$AB_PORT/pass" -duration 4s $(scenario_flags stream64) >/dev/null &
	lp=$!
	sleep 0.5
	timeout 30 perf record -q -F 999 -g -o "$OUT/perf.data" -p "$AB_PID" -- sleep 3 >/dev/null 2>&1 || true
	wait "$lp" || true
	stop_all
	perf report -i "$OUT/perf.data" --stdio --no-children --sort dso,symbol 2>/dev/null |
		grep -E '^ +[0-9]' | head -25 >"$OUT/profile.txt" || true
	log "profile: $OUT/profile.txt"
fi

"$BIN/summarize" "$RESULTS" | tee "$OUT/summary.md"
errors=$(grep -c '"FirstError"' "$RESULTS" || true)
lines=$(wc -l <"$RESULTS")
log "results: $OUT ($lines runs, $errors with errors)"
# CI smoke: fail when a run is missing or reported an error.
((lines > 0)) && ((errors == 0))
