#!/bin/sh
# Builds the static agentbridge binary the Dockerfile ships: no cgo, no
# libc, stripped, reproducible paths. OUT (default ./agentbridge) is where
# it goes; VERSION, when set, overrides the version the toolchain records.
set -eu
OUT="${OUT:-agentbridge}"
LDFLAGS="-s -w"
if [ -n "${VERSION:-}" ]; then
	LDFLAGS="$LDFLAGS -X main.version=$VERSION"
fi
CGO_ENABLED=0 go build -trimpath -ldflags "$LDFLAGS" -o "$OUT" ./cmd/agentbridge
