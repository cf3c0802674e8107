package proxy

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/demo"
	"github.com/agentbridge/agentbridge/translators/agents"
)

// An Agents SDK client (useAgentChat's frames) through a translating
// session: clearing the chat starts a new conversation on a new backend
// leg, and the session goes on.

// agentsClient speaks the Agents SDK chat protocol to the proxy.
type agentsClient struct{ *client }

// dialAgents connects to path and reads the greeting (identity, MCP servers).
func dialAgents(t testing.TB, addr, path string) agentsClient {
	t.Helper()
	c := agentsClient{dial(t, wsURL(addr, path))}
	for _, want := range []string{"cf_agent_identity", "cf_agent_mcp_servers"} {
		if m := c.recvJSON(); m["type"] != want {
			t.Fatalf("greeting: got %v, want %s", m, want)
		}
	}
	return c
}

func (c agentsClient) recvJSON() map[string]any {
	c.t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(c.recv()), &m); err != nil {
		c.t.Fatalf("not JSON: %v", err)
	}
	return m
}

// chat sends a cf_agent_use_chat_request for one user message.
func (c agentsClient) chat(id, text string) {
	c.t.Helper()
	body, _ := json.Marshal(map[string]any{"messages": []any{map[string]any{
		"id": "u-" + id, "role": "user", "parts": []any{map[string]any{"type": "text", "text": text}}}},
		"trigger": "submit-message"})
	msg, _ := json.Marshal(map[string]any{"type": "cf_agent_use_chat_request", "id": id,
		"init": map[string]any{"method": "POST", "body": string(body)}})
	c.send(string(msg))
}

// reply reads the response frames of the request id up to its terminal
// frame, and returns the text of its text-delta chunks and its outcome.
// With untilDelta it returns after the first text-delta instead.
func (c agentsClient) reply(id string, untilDelta bool) (text, outcome string) {
	c.t.Helper()
	for {
		m := c.recvJSON()
		if m["type"] != "cf_agent_use_chat_response" || m["id"] != id {
			continue
		}
		if m["done"] == true {
			o, _ := m["outcome"].(string)
			return text, o
		}
		var chunk struct{ Type, Delta string }
		if err := json.Unmarshal([]byte(m["body"].(string)), &chunk); err == nil && chunk.Type == "text-delta" {
			text += chunk.Delta
			if untilDelta {
				return text, ""
			}
		}
	}
}

func agentsRoute(b *Backend) *Route {
	return &Route{Name: "agents", Path: "/agents/:agent/:name", Client: agents.Dialect, Backend: b}
}

// TestAgentsClearNewConnicConversation: cf_agent_chat_clear closes the
// Connic backend's connection and opens a new one, so the backend's
// conversation starts over (its count of messages says so), on the same
// client socket.
func TestAgentsClearNewConnicConversation(t *testing.T) {
	cb := &connicBackend{secret: "s", streaming: true, count: true}
	conns := &counter{}
	url := "ws://" + serveTCP(t, func(c net.Conn) { conns.add(1); cb.conn(c) }) + "/ws"
	_, addr := startProxy(t, Config{Routes: []*Route{agentsRoute(connicBackendCfg(url, "s"))}})
	c := dialAgents(t, addr, "/agents/a/b")

	c.chat("r1", "hello")
	if text, outcome := c.reply("r1", false); text != "#1 Echo: hello" || outcome != "" {
		t.Fatalf("first reply %q, outcome %q", text, outcome)
	}
	c.chat("r2", "more")
	if text, _ := c.reply("r2", false); text != "#2 Echo: more" {
		t.Fatalf("second reply %q", text)
	}
	c.send(`{"type":"cf_agent_chat_clear"}`)
	c.chat("r3", "again")
	if text, outcome := c.reply("r3", false); text != "#1 Echo: again" || outcome != "" {
		t.Fatalf("reply after clear %q, outcome %q: want the backend's first message of a new conversation", text, outcome)
	}
	if n := conns.get(); n != 2 {
		t.Errorf("backend connections = %d, want 2 (one per conversation)", n)
	}
	// And again: each clear is one more connection.
	c.send(`{"type":"cf_agent_chat_clear"}`)
	c.chat("r4", "third")
	if text, _ := c.reply("r4", false); text != "#1 Echo: third" {
		t.Fatalf("reply after the second clear %q", text)
	}
	if n := conns.get(); n != 3 {
		t.Errorf("backend connections = %d, want 3", n)
	}
}

// TestAgentsClearPlainBackend: a plain backend is dialed again after a
// clear; the old connection is closed.
func TestAgentsClearPlainBackend(t *testing.T) {
	url, conns := startBackend(t, func(c net.Conn) {
		echoBackend(c)
	})
	_, addr := startProxy(t, Config{Routes: []*Route{agentsRoute(plainBackend(url))}})
	c := dialAgents(t, addr, "/agents/a/b")
	c.chat("r1", "hi")
	if text, _ := c.reply("r1", false); text != "echo: hi" {
		t.Fatalf("reply %q", text)
	}
	c.send(`{"type":"cf_agent_chat_clear"}`)
	c.chat("r2", "there")
	if text, _ := c.reply("r2", false); text != "echo: there" {
		t.Fatalf("reply after clear %q", text)
	}
	if n := conns.get(); n != 2 {
		t.Errorf("backend connections = %d, want 2", n)
	}
}

// TestAgentsClearMidReply: a clear while the in-process demo agent is
// replying ends that reply as aborted; the next message is answered by a
// new demo session.
func TestAgentsClearMidReply(t *testing.T) {
	opened := &counter{}
	b := demoBackend(demo.Agent{Pace: 20 * time.Millisecond})
	open := b.Open
	b.Open = func(ctx context.Context, p []Param) (Upstream, error) { opened.add(1); return open(ctx, p) }
	_, addr := startProxy(t, Config{Routes: []*Route{agentsRoute(b)}})
	c := dialAgents(t, addr, "/agents/a/b")
	c.chat("r1", "a long message of many words to stream slowly")
	if text, _ := c.reply("r1", true); text == "" {
		t.Fatal("no text before the clear")
	}
	c.send(`{"type":"cf_agent_chat_clear"}`)
	if _, outcome := c.reply("r1", false); outcome != "aborted" {
		t.Fatalf("outcome of the reply in flight = %q, want aborted", outcome)
	}
	c.chat("r2", "short")
	if text, outcome := c.reply("r2", false); !strings.HasSuffix(text, "short") || outcome != "" {
		t.Fatalf("reply after clear %q, outcome %q", text, outcome)
	}
	if n := opened.get(); n != 2 {
		t.Errorf("demo sessions opened = %d, want 2", n)
	}
}
