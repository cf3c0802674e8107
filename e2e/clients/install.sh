#!/usr/bin/env bash
# Installs what the agentbridge end-to-end suite's clients need, idempotently:
#   - Debian's python3-websockets for /usr/bin/python3 (not a pyenv/venv python);
#     the clients of examples/ (run by cmd/agentbridge's TestExamples) need it too
#   - Debian's python3-socketio and python3-aiohttp, for the fake OpenHands server
#   - the npm packages pinned in package-lock.json (ws, agents, and react,
#     react-test-renderer, ai, @ai-sdk/react for useAgentChat, socket.io-client
#     for the OpenHands UI client) into node_modules
# Safe to run again: each step is skipped when already satisfied.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if /usr/bin/python3 -c 'import websockets' >/dev/null 2>&1; then
	echo "install.sh: python3-websockets present ($(/usr/bin/python3 -c 'import websockets; print(websockets.__version__)'))"
else
	echo "install.sh: installing python3-websockets"
	sudo=""
	if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
	$sudo apt-get update
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends python3-websockets
	/usr/bin/python3 -c 'import websockets'
fi

# The fake OpenHands server (openhands_server.py) runs on python-socketio,
# the library OpenHands runs on, with its aiohttp server.
if /usr/bin/python3 -c 'import socketio, engineio, aiohttp' >/dev/null 2>&1; then
	echo "install.sh: python3-socketio and python3-aiohttp present"
else
	echo "install.sh: installing python3-socketio python3-aiohttp"
	sudo=""
	if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
	$sudo apt-get update
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends python3-socketio python3-aiohttp
	/usr/bin/python3 -c 'import socketio, engineio, aiohttp'
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "install.sh: node and npm are required (Node 20 or newer)" >&2
	exit 1
fi

# npm ci reinstalls from scratch; skip it when node_modules already matches
# the lock file (npm writes node_modules/.package-lock.json on install).
# Every direct dependency must be there too, so a lock file that gained a
# package since the last install (or an older npm install) is reinstalled.
up_to_date=1
if [ ! -f "$here/node_modules/.package-lock.json" ] ||
	[ ! "$here/node_modules/.package-lock.json" -nt "$here/package-lock.json" ]; then
	up_to_date=""
fi
for pkg in $(node -e 'console.log(Object.keys(require(process.argv[1]).dependencies).join(" "))' "$here/package.json"); do
	[ -f "$here/node_modules/$pkg/package.json" ] || up_to_date=""
done
if [ -n "$up_to_date" ]; then
	echo "install.sh: node_modules up to date"
else
	echo "install.sh: npm ci in $here"
	(cd "$here" && npm ci --no-audit --no-fund)
fi

# The AIChatAgent Worker (e2e/worker) that agents_backend_test.go runs in
# Miniflare: a separate npm project.
"$here/../worker/install.sh"
