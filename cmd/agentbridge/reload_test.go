package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/config"
	"github.com/agentbridge/agentbridge/proxy"
)

const reloadV1 = `version: 1
auth:
  team: {type: secret, secrets: [team-secret]}
  tickets: {type: ticket, ttl: 1m, issue_with: [team]}
backends:
  demo: {dialect: demo, demo: {pace: 0s, prefix: "one:"}}
routes:
  - {name: chat, path: /chat, dialect: plain, auth: [tickets], backend: demo}
  - {name: open, path: /open, dialect: plain, auth: none, backend: demo}
`

// TestReloadFromFile: an invalid file keeps the running configuration and
// logs why; a valid one serves new connections with the new routes and
// backends, and keeps the auth providers it did not change (a ticket
// minted before the reload is redeemed after it).
func TestReloadFromFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(reloadV1)
	f, err := config.Load(path, dialects)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncWriter
	logger := newLogger(config.Log{Level: "info"}, &logs)
	pc, b, err := buildReusing(f, dialects, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := proxy.New(pc)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	addr := ln.Addr().String()
	ask := func(path string) string {
		c := dialText(t, "ws://"+addr+path)
		c.send("hi")
		defer c.close()
		return c.recv()
	}
	if got := ask("/open"); got != "one:hi" {
		t.Fatalf("before reload: %q", got)
	}
	req, _ := http.NewRequest("POST", "http://"+addr+"/auth/tickets", strings.NewReader(`{"route":"chat"}`))
	req.Header.Set("Authorization", "Bearer team-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ticket struct{ Ticket string }
	_ = json.NewDecoder(resp.Body).Decode(&ticket)
	resp.Body.Close()
	if ticket.Ticket == "" {
		t.Fatalf("no ticket: %d", resp.StatusCode)
	}

	write("version: 1\nroutes:\n  - {name: chat, path: /chat, dialect: plain, auth: [nobody], backend: nowhere}\n")
	f, b = reload(path, f, b, srv, logger)
	if !strings.Contains(logs.String(), "configuration not reloaded") || !strings.Contains(logs.String(), "c.yaml:3:") {
		t.Errorf("an invalid file's errors were not logged:\n%s", logs.String())
	}
	if got := ask("/open"); got != "one:hi" {
		t.Errorf("after an invalid file: %q, want the running configuration's answer", got)
	}

	write(strings.Replace(reloadV1, `prefix: "one:"`, `prefix: "two:"`, 1) +
		"  - {name: added, path: /added, dialect: plain, auth: none, backend: demo}\n")
	f, b = reload(path, f, b, srv, logger)
	if !strings.Contains(logs.String(), "configuration reloaded") {
		t.Fatalf("no reload logged:\n%s", logs.String())
	}
	if got := ask("/chat?ticket=" + ticket.Ticket); got != "two:hi" {
		t.Errorf("a ticket minted before the reload, after it: %q, want two:hi", got)
	}
	if got := ask("/added"); got != "two:hi" {
		t.Errorf("the added route: %q", got)
	}
	if f.Routes[2].Name != "added" || len(b.routes) != 3 {
		t.Errorf("reload returned %d routes", len(b.routes))
	}
}

// TestBuildReuses: a rebuild of an unchanged configuration reuses every
// provider, backend and route; a changed backend is rebuilt, with the
// routes on it.
func TestBuildReuses(t *testing.T) {
	parse := func(s string) *config.File {
		f, err := config.Parse("t.yaml", []byte(s), dialects)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	pc1, b1, err := buildReusing(parse(reloadV1), dialects, newLogger(config.Log{}, &syncWriter{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	pc2, b2, err := buildReusing(parse("\n\n"+reloadV1), dialects, newLogger(config.Log{}, &syncWriter{}), b1)
	if err != nil {
		t.Fatal(err)
	}
	if pc1.Routes[0] != pc2.Routes[0] || pc1.Tickets[0].Tickets != pc2.Tickets[0].Tickets {
		t.Error("an unchanged configuration (moved by two lines) was rebuilt")
	}
	pc3, _, err := buildReusing(parse(strings.Replace(reloadV1, "pace: 0s", "pace: 1ms", 1)), dialects, newLogger(config.Log{}, &syncWriter{}), b2)
	if err != nil {
		t.Fatal(err)
	}
	if pc3.Routes[0] == pc2.Routes[0] || pc3.Routes[0].Backend == pc2.Routes[0].Backend {
		t.Error("a changed backend was reused")
	}
	if pc3.Tickets[0].Tickets != pc2.Tickets[0].Tickets {
		t.Error("an unchanged ticket provider was rebuilt")
	}
}
