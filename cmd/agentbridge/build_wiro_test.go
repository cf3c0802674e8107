package main

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/config"
)

// TestBuildWiroLimits: max_conversations reaches the proxy globally and per
// route (a route without its own takes the global value), and a Wiro
// backend's shared socket takes the global max_message and write_timeout.
func TestBuildWiroLimits(t *testing.T) {
	f, err := config.Parse("t.yaml", []byte(`version: 1
limits: {max_conversations: 50, max_message: 2KiB, write_timeout: 3s}
backends:
  w: {dialect: wiro, api_url: "http://127.0.0.1:9/v1", socket_url: "ws://127.0.0.1:9/v1", api_key: k, useragent_guid: g}
routes:
  - {name: small, path: /small, dialect: wiro, auth: none, backend: w, limits: {max_conversations: 5, max_message: 64}}
  - {name: other, path: /other, dialect: wiro, auth: none, backend: w}
`), dialects)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := build(f, dialects, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if pc.MaxConversations != 50 {
		t.Errorf("global max_conversations %d, want 50", pc.MaxConversations)
	}
	for _, rt := range pc.Routes {
		if want := map[string]int{"small": 5, "other": 50}[rt.Name]; rt.Limits.MaxConversations != want {
			t.Errorf("route %s: max_conversations %d, want %d", rt.Name, rt.Limits.MaxConversations, want)
		}
	}
	if b := pc.Routes[0].Backend; b.MaxMessage != 2048 || b.WriteTimeout != 3*time.Second {
		t.Errorf("backend socket limits: max_message %d, write_timeout %v; want the global 2048 and 3s", b.MaxMessage, b.WriteTimeout)
	}
}
