package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/demo"
	"github.com/agentbridge/agentbridge/translators"
)

// streamRoute is a plain route streaming each word of the demo agent's
// reply, then [END].
func streamRoute(name, path string, a demo.Agent) *Route {
	rt := plainRoute(name, path, demoBackend(a))
	rt.ClientOptions = translators.Options{Reply: translators.ReplyStream, EndMarker: "[END]"}
	return rt
}

// TestReload: a session streaming across a reload keeps streaming, on the
// route it started with, to its end; a new connection gets the new route;
// a removed route is gone; an invalid configuration changes nothing.
func TestReload(t *testing.T) {
	srv, addr := startProxy(t, Config{Routes: []*Route{
		streamRoute("chat", "/chat", demo.Agent{Prefix: "old:", Pace: 20 * time.Millisecond}),
		streamRoute("gone", "/gone", demo.Agent{}),
	}})
	live := dial(t, wsURL(addr, "/chat"))
	live.send("a b c d e f g h i j k l m n o p q r s t")
	first := live.recv()
	if !strings.HasPrefix(first, "old:") {
		t.Fatalf("first chunk %q, want old:...", first)
	}

	if err := srv.Reload(Config{Routes: nil}); err == nil {
		t.Fatal("Reload without routes succeeded")
	}
	if err := srv.Reload(Config{Routes: []*Route{{Name: "bad", Path: "/bad", Client: plainRoute("", "", nil).Client}}}); err == nil {
		t.Fatal("Reload of a route without a backend succeeded")
	}
	if st, _ := dialRefused(t, wsURL(addr, "/gone"), nil); st != 0 {
		t.Fatalf("after failed reloads, /gone: status %d; the old configuration must stay", st)
	}

	if err := srv.Reload(Config{Routes: []*Route{
		streamRoute("chat", "/chat", demo.Agent{Prefix: "new:"}),
		streamRoute("added", "/added", demo.Agent{Prefix: "added:"}),
	}}); err != nil {
		t.Fatal(err)
	}

	// The live session goes on streaming with the old agent.
	got := []string{first}
	for {
		m := live.recv()
		if m == "[END]" {
			break
		}
		got = append(got, m)
	}
	if text := strings.Join(got, ""); strings.TrimSpace(text) != "old:a b c d e f g h i j k l m n o p q r s t" || len(got) < 10 {
		t.Errorf("the live session streamed %d chunks %q across the reload, want the 20 words", len(got), got)
	}
	live.send("again")
	if m := live.recv(); !strings.HasPrefix(m, "old:") {
		t.Errorf("the live session's next reply starts %q, want old: (it keeps its configuration)", m)
	}

	fresh := dial(t, wsURL(addr, "/chat"))
	fresh.send("hi")
	if m := fresh.recv(); !strings.HasPrefix(m, "new:") {
		t.Errorf("a new connection's reply starts %q, want new:", m)
	}
	added := dial(t, wsURL(addr, "/added"))
	added.send("hi")
	if m := added.recv(); !strings.HasPrefix(m, "added:") {
		t.Errorf("the added route answers %q", m)
	}
	if st, _ := dialRefused(t, wsURL(addr, "/gone"), nil); st != 404 {
		t.Errorf("a removed route: status %d, want 404", st)
	}
}
