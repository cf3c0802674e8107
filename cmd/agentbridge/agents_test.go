package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// The agents dialect end to end over 127.0.0.1: an Agents SDK client
// (what AgentClient and useAgentChat send) on /agents/:agent/:name, served
// by the demo agent.

// agentsFrame is the part of an Agents SDK frame the tests read.
type agentsFrame struct {
	Type       string   `json:"type"`
	Name       string   `json:"name"`
	Agent      string   `json:"agent"`
	ID         string   `json:"id"`
	Body       string   `json:"body"`
	Done       bool     `json:"done"`
	Error      any      `json:"error"` // true on a chat frame, a message on rpc
	Seq        *int     `json:"seq"`
	Outcome    string   `json:"outcome"`
	MessageIDs []string `json:"messageIds"`
	Success    *bool    `json:"success"`
}

func (c *textClient) recvAgents() agentsFrame {
	c.t.Helper()
	m := c.recv()
	var f agentsFrame
	if err := json.Unmarshal([]byte(m), &f); err != nil {
		c.t.Fatalf("not JSON: %q", m)
	}
	return f
}

// chatTurn reads a chat reply to the request id until its terminal frame:
// the chunk types in order, the text, and the terminal frame.
func (c *textClient) chatTurn(id string) (types []string, text string, end agentsFrame) {
	c.t.Helper()
	var sb strings.Builder
	want := 0
	for {
		f := c.recvAgents()
		if f.Type != "cf_agent_use_chat_response" || f.ID != id {
			c.t.Fatalf("unexpected frame %+v", f)
		}
		if f.Done || f.Error == true {
			return types, sb.String(), f
		}
		if f.Seq != nil && *f.Seq != want { // the fake backend sends none
			c.t.Fatalf("seq = %v, want %d", f.Seq, want)
		}
		want++
		var chunk struct{ Type, Delta, MessageID string }
		if err := json.Unmarshal([]byte(f.Body), &chunk); err != nil {
			c.t.Fatalf("body is not JSON: %q", f.Body)
		}
		if len(types) == 0 || types[len(types)-1] != chunk.Type {
			types = append(types, chunk.Type)
		}
		sb.WriteString(chunk.Delta)
	}
}

func chatRequestFrame(id, text string) string {
	body, _ := json.Marshal(map[string]any{"messages": []any{
		map[string]any{"id": "u-" + id, "role": "user", "parts": []any{map[string]any{"type": "text", "text": text}}},
	}, "trigger": "submit-message"})
	msg, _ := json.Marshal(map[string]any{"type": "cf_agent_use_chat_request", "id": id,
		"init": map[string]any{"method": "POST", "body": string(body)}})
	return string(msg)
}

func TestAgentsClientOnDemo(t *testing.T) {
	addr := startWithTable(t, `version: 1
backends:
  demo: {dialect: demo, demo: {pace: 0s, prefix: "echo: "}}
  slow: {dialect: demo, demo: {pace: 100ms, prefix: "slowly: "}}
routes:
  - {path: /slow/:agent/:name, dialect: agents, auth: none, backend: slow}
  - {path: /agents/:agent/:name, dialect: agents, auth: none, backend: demo}
`, dialects, nil)

	dial := func(t *testing.T, path string) *textClient {
		c := dialText(t, "ws://"+addr+path+"?_pk=3f1c6a9e-0000-4000-8000-000000000001&token=x")
		if f := c.recvAgents(); f.Type != "cf_agent_identity" || f.Name != "room-1" || f.Agent != "my-chat-agent" {
			t.Fatalf("first frame %+v, want cf_agent_identity room-1 my-chat-agent", f)
		}
		if m := c.recv(); m != `{"type":"cf_agent_mcp_servers","mcp":{"servers":{},"tools":[],"prompts":[],"resources":[]}}` {
			t.Fatalf("second frame %q, want the empty MCP servers", m)
		}
		return c
	}

	t.Run("chat", func(t *testing.T) {
		c := dial(t, "/agents/my-chat-agent/room-1")
		c.send(chatRequestFrame("V1StGXR8", "Hi there"))
		types, text, end := c.chatTurn("V1StGXR8")
		if got := strings.Join(types, " "); got != "start text-start text-delta text-end finish" {
			t.Errorf("chunks %q", got)
		}
		if text != "echo: Hi there" {
			t.Errorf("text %q", text)
		}
		if end.Body != "" || !end.Done || end.Outcome != "" || len(end.MessageIDs) != 1 || end.MessageIDs[0] != "u-V1StGXR8" {
			t.Errorf("terminal frame %+v", end)
		}
		// A second request on the same socket.
		c.send(chatRequestFrame("req2", "again"))
		if _, text, _ := c.chatTurn("req2"); text != "echo: again" {
			t.Errorf("second reply %q", text)
		}
	})
	t.Run("plain", func(t *testing.T) {
		c := dial(t, "/agents/my-chat-agent/room-1")
		c.send("hello")
		if m := c.recv(); m != "echo: hello" {
			t.Fatalf("got %q, want the whole reply", m)
		}
		c.send(`{"type":"inquiry","question":"2+2?"}`)
		if m := c.recv(); m != `echo: {"type":"inquiry","question":"2+2?"}` {
			t.Fatalf("got %q", m)
		}
	})
	t.Run("rpc and state answered at once", func(t *testing.T) {
		c := dial(t, "/agents/my-chat-agent/room-1")
		c.send(`{"args":["x"],"id":"5f0c","method":"echo","type":"rpc"}`)
		f := c.recvAgents()
		if f.Type != "rpc" || f.ID != "5f0c" || f.Success == nil || *f.Success {
			t.Fatalf("rpc answer %+v", f)
		}
		c.send(`{"state":{"n":1},"type":"cf_agent_state"}`)
		if f := c.recvAgents(); f.Type != "cf_agent_state_error" {
			t.Fatalf("state answer %+v", f)
		}
		c.send(`{"type":"cf_agent_stream_resume_request","probeId":"p1"}`)
		if m := c.recv(); m != `{"type":"cf_agent_stream_resume_none","reason":"idle","probeId":"p1"}` {
			t.Fatalf("resume answer %q", m)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		c := dial(t, "/slow/my-chat-agent/room-1")
		c.send(chatRequestFrame("long", "one two three four five six seven eight"))
		if f := c.recvAgents(); f.ID != "long" || !strings.Contains(f.Body, `"start"`) {
			t.Fatalf("first chunk %+v", f)
		}
		c.send(`{"id":"long","type":"cf_agent_chat_request_cancel"}`)
		var end agentsFrame
		for end = c.recvAgents(); !end.Done; end = c.recvAgents() {
		}
		if end.ID != "long" || end.Outcome != "aborted" {
			t.Fatalf("terminal frame %+v, want outcome aborted", end)
		}
	})
}

// fakeChatAgent serves a small AIChatAgent on 127.0.0.1: identity (with
// stateFollows), state and MCP servers on connect; each chat request is
// answered with another client's stray frame, then start, text "re: " and
// the last user message's text in two deltas, finish and the done frame.
// It sends each request's message count and each connection's URI on got.
func fakeChatAgent(t *testing.T) (string, chan string) {
	t.Helper()
	got := make(chan string, 100)
	u := ws.Upgrader{OnRequest: func(uri []byte) error { got <- "uri " + string(uri); return nil }}
	addr := serveWS(t, u, func(c net.Conn, rw io.ReadWriter) {
		send := func(s string) bool { return wsutil.WriteServerText(c, []byte(s)) == nil }
		if !send(`{"type":"cf_agent_identity","name":"room-1","agent":"chat","stateFollows":true}`) ||
			!send(`{"type":"cf_agent_state","state":{"n":1}}`) ||
			!send(`{"mcp":{"servers":{},"tools":[],"prompts":[],"resources":[]},"type":"cf_agent_mcp_servers"}`) {
			return
		}
		for {
			msg, err := wsutil.ReadClientText(rw)
			if err != nil {
				return
			}
			var req struct {
				Type, ID string
				Init     struct{ Body string }
			}
			if json.Unmarshal(msg, &req) != nil || req.Type != "cf_agent_use_chat_request" {
				got <- string(msg)
				continue
			}
			var body struct {
				Messages []struct {
					Role  string
					Parts []struct{ Text string }
				}
			}
			_ = json.Unmarshal([]byte(req.Init.Body), &body)
			got <- fmt.Sprintf("request %d", len(body.Messages))
			last := body.Messages[len(body.Messages)-1].Parts[0].Text
			frame := func(chunk string) string {
				b, _ := json.Marshal(map[string]any{"type": "cf_agent_use_chat_response", "id": req.ID, "body": chunk, "done": false})
				return string(b)
			}
			d, _ := json.Marshal(last)
			for _, m := range []string{
				`{"body":"{\"type\":\"text-delta\",\"id\":\"t0\",\"delta\":\"stray\"}","done":false,"id":"other","type":"cf_agent_use_chat_response"}`,
				frame(`{"type":"start","messageId":"a1"}`), frame(`{"type":"text-start","id":"t0"}`),
				frame(`{"type":"text-delta","id":"t0","delta":"re: "}`),
				frame(`{"type":"text-delta","id":"t0","delta":` + string(d) + `}`),
				frame(`{"type":"text-end","id":"t0"}`), frame(`{"type":"finish","finishReason":"stop"}`),
				`{"body":"","done":true,"id":"` + req.ID + `","type":"cf_agent_use_chat_response","messageIds":["u"]}`,
			} {
				if !send(m) {
					return
				}
			}
		}
	})
	return addr, got
}

// TestAgentsBackend: a plain client and a Connic client reach an
// AIChatAgent; each request carries the conversation so far; an Agents
// client is relayed to it untouched.
func TestAgentsBackend(t *testing.T) {
	backend, got := fakeChatAgent(t)
	addr := startWithTable(t, `version: 1
backends:
  chat: {dialect: agents, url: "ws://`+backend+`/agents/chat/{name}"}
routes:
  - {path: /plain/:name, dialect: plain, auth: none, backend: chat}
  - {path: /connic/:name, dialect: connic, auth: none, backend: chat}
  - {path: /agents/:agent/:name, dialect: agents, auth: none, backend: chat}
`, dialects, nil)

	uri := func() string {
		m := next(t, got)
		if !strings.HasPrefix(m, "uri /agents/chat/room-1?_pk=") || len(m) != len("uri /agents/chat/room-1?_pk=")+36 {
			t.Fatalf("backend was dialed at %q, want a _pk of its own", m)
		}
		return m
	}
	t.Run("plain", func(t *testing.T) {
		c := dialText(t, "ws://"+addr+"/plain/room-1")
		first := uri()
		c.send("hello")
		if m := c.recv(); m != "re: hello" {
			t.Fatalf("got %q", m)
		}
		c.send("again")
		if m := c.recv(); m != "re: again" {
			t.Fatalf("got %q", m)
		}
		for _, want := range []string{"request 1", "request 3"} {
			if m := next(t, got); m != want {
				t.Fatalf("backend got %q, want %q", m, want)
			}
		}
		c2 := dialText(t, "ws://"+addr+"/plain/room-1")
		if second := uri(); second == first {
			t.Fatalf("two connections share %q", first)
		}
		c2.close()
	})
	t.Run("connic", func(t *testing.T) {
		c := dialText(t, "ws://"+addr+"/connic/room-1")
		uri()
		if m := c.recv(); !strings.Contains(m, `"connected"`) {
			t.Fatalf("got %q", m)
		}
		c.send(`{"type":"message","id":"m1","payload":{"message":"hi"}}`)
		var last string
		for m := c.recv(); ; m = c.recv() {
			if strings.Contains(m, `"stream_end"`) {
				last = m
				break
			}
		}
		if !strings.Contains(last, `"id":"m1"`) || !strings.Contains(last, `"full_response":"re: hi"`) {
			t.Fatalf("stream_end %q", last)
		}
		drain(got)
	})
	t.Run("relay", func(t *testing.T) {
		c := dialText(t, "ws://"+addr+"/agents/chat/room-1")
		uri()
		for _, want := range []string{`"cf_agent_identity"`, `"cf_agent_state"`, `"cf_agent_mcp_servers"`} {
			if m := c.recv(); !strings.Contains(m, want) {
				t.Fatalf("got %q, want %s", m, want)
			}
		}
		c.send(chatRequestFrame("r1", "yo"))
		if m := c.recv(); !strings.Contains(m, `"id":"other"`) {
			t.Fatalf("relay: got %q, want the backend's frames as they are", m)
		}
		if _, text, end := c.chatTurn("r1"); text != "re: yo" || !end.Done {
			t.Fatalf("relay: text %q, end %+v", text, end)
		}
	})
}
