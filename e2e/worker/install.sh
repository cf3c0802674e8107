#!/usr/bin/env bash
# Installs the AIChatAgent Worker's npm packages (agents, @cloudflare/ai-chat,
# ai, esbuild, miniflare with its bundled workerd) from package-lock.json
# into node_modules, idempotently: npm ci runs only when node_modules does
# not match the lock file. Called by ../clients/install.sh.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "worker/install.sh: node and npm are required (Node 20 or newer)" >&2
	exit 1
fi

up_to_date=1
if [ ! -f "$here/node_modules/.package-lock.json" ] ||
	[ ! "$here/node_modules/.package-lock.json" -nt "$here/package-lock.json" ]; then
	up_to_date=""
fi
for pkg in $(node -e 'console.log(Object.keys(require(process.argv[1]).dependencies).join(" "))' "$here/package.json"); do
	[ -f "$here/node_modules/$pkg/package.json" ] || up_to_date=""
done
# workerd ships as an npm package of its own (no download at run time).
[ -x "$here/node_modules/@cloudflare/workerd-linux-64/bin/workerd" ] || up_to_date=""
if [ -n "$up_to_date" ]; then
	echo "worker/install.sh: node_modules up to date"
else
	echo "worker/install.sh: npm ci in $here"
	(cd "$here" && npm ci --no-audit --no-fund)
fi
