package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
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

// getJSON does a GET on the proxy with an optional bearer token and returns
// the status and the body.
func getJSON(t testing.TB, addr, path, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// TestAgentsGetMessages: GET <path>/get-messages, what useAgentChat loads
// first, returns the path's conversation as UIMessages: the user's message
// and the reply after one exchange, [] for a name never used, [] again
// after a clear. A route with auth refuses it without a credential, as it
// refuses the socket.
func TestAgentsGetMessages(t *testing.T) {
	cb := &connicBackend{secret: "s", streaming: true, count: true}
	url := cb.serve(t)
	secure := agentsRoute(connicBackendCfg(url, "s"))
	secure.Name, secure.Path, secure.Auth = "secure", "/secure/agents/:agent/:name", secretAuth(t, "team-secret")
	_, addr := startProxy(t, Config{Routes: []*Route{agentsRoute(connicBackendCfg(url, "s")), secure}})

	if status, body := getJSON(t, addr, "/agents/a/b/get-messages", ""); status != 200 || body != "[]" {
		t.Fatalf("before any message: %d %s", status, body)
	}
	c := dialAgents(t, addr, "/agents/a/b")
	c.chat("r1", "hello")
	if text, _ := c.reply("r1", false); text != "#1 Echo: hello" {
		t.Fatalf("reply %q", text)
	}
	status, body := getJSON(t, addr, "/agents/a/b/get-messages", "")
	var msgs []struct {
		ID, Role string
		Parts    []struct{ Type, Text string }
	}
	if err := json.Unmarshal([]byte(body), &msgs); status != 200 || err != nil {
		t.Fatalf("get-messages: %d %s (%v)", status, body, err)
	}
	if len(msgs) != 2 || msgs[0].Role != "user" || msgs[1].Role != "assistant" ||
		len(msgs[0].Parts) != 1 || msgs[0].Parts[0] != (struct{ Type, Text string }{"text", "hello"}) ||
		len(msgs[1].Parts) != 1 || msgs[1].Parts[0] != (struct{ Type, Text string }{"text", "#1 Echo: hello"}) ||
		msgs[0].ID == "" || msgs[1].ID != "assistant-r1" {
		t.Fatalf("get-messages = %s", body)
	}
	if status, body := getJSON(t, addr, "/agents/a/other/get-messages", ""); status != 200 || body != "[]" {
		t.Errorf("another name: %d %s, want 200 []", status, body)
	}
	if status, body := getJSON(t, addr, "/agents/other/b/get-messages", ""); status != 200 || body != "[]" {
		t.Errorf("another agent: %d %s, want 200 []", status, body)
	}

	// Auth: as the socket's.
	if status, body := getJSON(t, addr, "/secure/agents/a/b/get-messages", ""); status != 401 {
		t.Errorf("anonymous GET on a route with auth: %d %s, want 401", status, body)
	}
	if status, _ := getJSON(t, addr, "/secure/agents/a/b/get-messages", "wrong"); status != 401 {
		t.Errorf("GET with a wrong secret: %d, want 401", status)
	}
	if status, body := getJSON(t, addr, "/secure/agents/a/b/get-messages", "team-secret"); status != 200 || body != "[]" {
		t.Errorf("GET with the secret: %d %s, want 200 [] (the other route's conversation is its own)", status, body)
	}
	if code, _ := dialRefused(t, wsURL(addr, "/secure/agents/a/b"), nil); code != 401 {
		t.Errorf("anonymous upgrade: %d, want 401", code)
	}

	// Another method is refused whole; a clear empties the history.
	resp, err := http.Post("http://"+addr+"/agents/a/b/get-messages", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
	c.send(`{"type":"cf_agent_chat_clear"}`)
	c.chat("r2", "new")
	if text, _ := c.reply("r2", false); text != "#1 Echo: new" {
		t.Fatalf("reply after clear %q", text)
	}
	_, body = getJSON(t, addr, "/agents/a/b/get-messages", "")
	if err := json.Unmarshal([]byte(body), &msgs); err != nil || len(msgs) != 2 || msgs[0].Parts[0].Text != "new" {
		t.Errorf("get-messages after a clear and one exchange = %s", body)
	}
}
