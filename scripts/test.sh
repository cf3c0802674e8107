#!/usr/bin/env bash
# Runs every test of agentbridge: formatting, vet, the Go tests with the race
# detector (unit, golden, loopback end-to-end, leak and allocation checks),
# the end-to-end suite with third-party clients (Python websockets, Node ws
# and the Cloudflare agents client), and a short run of every fuzz target.
# It installs what the tests need first (Debian packages, npm modules).
#
#   scripts/test.sh            everything
#   FUZZTIME=30s scripts/test.sh   longer fuzzing (default 3s per target)
#   SKIP_BENCH_SMOKE=1 scripts/test.sh   without the side-by-side smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

step() { printf '\n== %s\n' "$*"; }

step "install test prerequisites"
if [ -f e2e/clients/install.sh ]; then
  bash e2e/clients/install.sh
fi

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './e2e/clients/node_modules/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet (and builds for the other architectures and systems)"
go vet ./...
# The proxy makes raw system calls on Linux and parks connections only
# there: a target that lacks one of them (arm64 has no epoll_wait) must
# fail here, not on a user's machine.
GOOS=linux GOARCH=arm64 go vet ./...
GOOS=darwin GOARCH=arm64 go vet ./cmd/... ./proxy/...
GOOS=windows GOARCH=amd64 go build -o /dev/null ./cmd/agentbridge

step "go test -race"
go test -race -count=1 -timeout 20m ./...

step "allocation checks (without -race, which allocates)"
go test -count=1 -run 'Allocs' ./...

# The Connic, Wiro and OpenHands decoders take what clients and backends
# send and re-encode it for the other side: they get 30s each
# (DECODER_FUZZTIME).
step "fuzz (${FUZZTIME:-3s} per target, ${DECODER_FUZZTIME:-30s} for the Connic, Wiro and OpenHands decoders)"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    fuzztime=${FUZZTIME:-3s}
    case "$pkg $target" in
      */translators/connic\ FuzzDecode | */translators/wiro\ FuzzDecode | */translators/openhands\ FuzzDecode) fuzztime=${DECODER_FUZZTIME:-30s} ;;
    esac
    echo "-- $pkg $target ($fuzztime)"
    for try in 1 2; do
      if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/agentbridge-fuzz.log 2>&1; then
        break
      fi
      # A failing input is a finding: stop. The fuzzing engine can also end
      # with a bare "context deadline exceeded" when -fuzztime runs out while
      # a worker is still on a slow input; nothing failed then, so try once
      # more, and only warn if it happens again.
      if grep -q "Failing input written" /tmp/agentbridge-fuzz.log || ! grep -q "context deadline exceeded" /tmp/agentbridge-fuzz.log; then
        cat /tmp/agentbridge-fuzz.log; exit 1
      fi
      if [ "$try" = 2 ]; then
        echo "   warning: the fuzzing engine timed out twice at the end of its time, with no failing input"
      fi
    done
  done
done

step "benchmark harness smoke (benchmarks/run.sh --quick: direct, nginx, HAProxy, agentbridge; run.sh installs nginx and haproxy from Debian when absent)"
if [ "${SKIP_BENCH_SMOKE:-}" = "" ]; then
  bash benchmarks/run.sh --quick
fi

step "all tests passed"
