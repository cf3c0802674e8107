package proxy

import "testing"

// TestAgentsClearWiroBackend: on a Wiro backend, whose conversations are
// keyed by the session key of each REST send, a clear opens a new backend
// conversation (a new key: the backend counts from 1 again) on the same
// client socket.
func TestAgentsClearWiroBackend(t *testing.T) {
	wb := &wiroBackend{key: "backend-key"}
	api, sock := wb.serve(t)
	_, addr := startProxy(t, Config{Routes: []*Route{agentsRoute(wiroBackendCfg(api, sock, "backend-key"))}})
	c := dialAgents(t, addr, "/agents/a/b")

	for _, step := range []struct{ id, send, want string }{
		{"r1", "hello", "Echo #1: hello"},
		{"r2", "more", "Echo #2: more"},
		{"clear", "", ""},
		{"r3", "again", "Echo #1: again"},
	} {
		if step.id == "clear" {
			c.send(`{"type":"cf_agent_chat_clear"}`)
			continue
		}
		c.chat(step.id, step.send)
		if text, outcome := c.reply(step.id, false); text != step.want || outcome != "" {
			t.Fatalf("%s: reply %q, outcome %q; want %q", step.id, text, outcome, step.want)
		}
	}
	wb.mu.Lock()
	keys := len(wb.sessions)
	wb.mu.Unlock()
	if keys != 2 {
		t.Errorf("backend conversations = %d, want 2 (one before the clear, one after)", keys)
	}
	wb.checkKeys(t)
}
