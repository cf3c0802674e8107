package proxy

import (
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/demo"
)

// TestAgentsRefusedRequestEnds: a chat request the proxy refuses before it
// reaches the backend (more than max_pending waiting) ends as that request
// (its error frame, then outcome "error"), so useAgentChat does not wait on
// it forever; the others are answered.
func TestAgentsRefusedRequestEnds(t *testing.T) {
	rt := agentsRoute(demoBackend(demo.Agent{Pace: 20 * time.Millisecond}))
	rt.Limits.MaxPending = 1
	_, addr := startProxy(t, Config{Routes: []*Route{rt}})
	c := dialAgents(t, addr, "/agents/a/b")
	ids := []string{"r1", "r2", "r3"}
	for _, id := range ids {
		c.chat(id, "a message of several words for "+id)
	}
	errFrame := map[string]bool{}
	outcome := map[string]string{}
	for len(outcome) < len(ids) {
		m := c.recvJSON()
		id, _ := m["id"].(string)
		switch {
		case m["type"] != "cf_agent_use_chat_response":
		case m["error"] == true:
			errFrame[id] = strings.Contains(m["body"].(string), "too many messages")
		case m["done"] == true:
			o, _ := m["outcome"].(string)
			outcome[id] = o
		}
	}
	refused := 0
	for _, id := range ids {
		switch {
		case outcome[id] == "error" && errFrame[id]:
			refused++
		case outcome[id] != "":
			t.Errorf("%s ended with outcome %q (error frame: %v)", id, outcome[id], errFrame[id])
		}
	}
	if refused == 0 {
		t.Errorf("no request was refused with max_pending 1: outcomes %v", outcome)
	}
}
