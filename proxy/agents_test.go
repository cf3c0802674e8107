package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/auth"
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
	return &Route{Name: "agents", Path: "/agents/:agent/:name", Client: agents.Dialect, Backend: b,
		Session: Session{ResumeWindow: 30 * time.Second}}
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
func getJSON(t *testing.T, addr, path, token string) (int, string) {
	t.Helper()
	return scrape(t, "http://"+addr+path, token)
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

// resumeFrames reads the response frames of id up to the terminal one and
// returns the text of its text-delta chunks, the seq of each frame marked
// replay, and whether a replayComplete frame came.
func (c agentsClient) resumeFrames(id string) (text string, replaySeqs []int, complete bool) {
	c.t.Helper()
	for {
		m := c.recvJSON()
		if m["type"] != "cf_agent_use_chat_response" || m["id"] != id {
			continue
		}
		if m["replayComplete"] == true {
			complete = true
			continue
		}
		if m["replay"] == true {
			if seq, ok := m["seq"].(float64); ok {
				replaySeqs = append(replaySeqs, int(seq))
			}
		}
		if m["done"] == true {
			return text, replaySeqs, complete
		}
		var chunk struct{ Type, Delta string }
		if err := json.Unmarshal([]byte(m["body"].(string)), &chunk); err == nil && chunk.Type == "text-delta" {
			text += chunk.Delta
		}
	}
}

// TestAgentsResumeAfterReload: a tab that reloads mid-reply gets the reply
// whole through the SDK's stream-resume handshake. Tab 1 asks, reads a few
// chunks and goes; the reply is not cancelled. Tab 2, on the same path,
// probes, is offered the reply, acks, and gets it replayed from seq 0, then
// the rest live, then the done frame: its text is the full reply, once.
func TestAgentsResumeAfterReload(t *testing.T) {
	b := demoBackend(demo.Agent{Pace: 15 * time.Millisecond})
	_, addr := startProxy(t, Config{Routes: []*Route{agentsRoute(b)}})
	const msg = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"

	// The whole reply, from a tab that stays, on another path.
	ref := dialAgents(t, addr, "/agents/a/ref")
	ref.chat("r0", msg)
	full, _ := ref.reply("r0", false)

	c1 := dialAgents(t, addr, "/agents/a/b")
	c1.chat("r1", msg)
	got, _ := c1.reply("r1", true)
	if got == "" || got == full {
		t.Fatalf("tab 1 read %q before leaving", got)
	}
	c1.nc.Close() // the tab reloads: its socket is gone, no close frame

	c2 := dialAgents(t, addr, "/agents/a/b")
	c2.send(`{"type":"cf_agent_stream_resume_request","probeId":"p1"}`)
	var offer map[string]any
	for offer = c2.recvJSON(); offer["type"] != "cf_agent_stream_resuming"; offer = c2.recvJSON() {
		if offer["type"] == "cf_agent_stream_resume_none" {
			t.Fatalf("probe answered %v: the reply in progress was not kept", offer)
		}
	}
	if offer["id"] != "r1" || offer["probeId"] != "p1" {
		t.Fatalf("offer %v", offer)
	}
	c2.send(`{"type":"cf_agent_stream_resume_ack","id":"r1"}`)
	text, seqs, complete := c2.resumeFrames("r1")
	if text != full {
		t.Fatalf("resumed text %q, want %q (whole, once)", text, full)
	}
	if len(seqs) == 0 || seqs[0] != 0 {
		t.Fatalf("replayed seqs %v: want a replay from 0", seqs)
	}
	for i := range seqs {
		if seqs[i] != i {
			t.Fatalf("replayed seqs %v: want 0, 1, 2, ...", seqs)
		}
	}
	if !complete {
		t.Errorf("no replayComplete frame before the live rest")
	}
	// Nothing in progress now: the probe is answered resume_none.
	c2.send(`{"type":"cf_agent_stream_resume_request","probeId":"p2"}`)
	if m := c2.recvJSON(); m["type"] != "cf_agent_stream_resume_none" || m["probeId"] != "p2" {
		t.Fatalf("probe after the reply ended: %v", m)
	}
	// And the transcript has the reply once.
	_, body := getJSON(t, addr, "/agents/a/b/get-messages", "")
	if strings.Count(body, "assistant-r1") != 1 {
		t.Errorf("get-messages = %s", body)
	}
}

// TestAgentsResumeNone: a probe with no reply in progress is answered
// cf_agent_stream_resume_none with its probeId; an ack for a reply not kept
// is not answered, and the socket goes on.
func TestAgentsResumeNone(t *testing.T) {
	_, addr := startProxy(t, Config{Routes: []*Route{agentsRoute(demoBackend(demo.Agent{}))}})
	c := dialAgents(t, addr, "/agents/a/b")
	c.send(`{"type":"cf_agent_stream_resume_request","probeId":"abc"}`)
	if m := c.recvJSON(); m["type"] != "cf_agent_stream_resume_none" || m["probeId"] != "abc" {
		t.Fatalf("probe: %v", m)
	}
	c.send(`{"type":"cf_agent_stream_resume_ack","id":"nope"}`)
	c.chat("r1", "hi")
	if text, _ := c.reply("r1", false); !strings.HasSuffix(text, "hi") {
		t.Fatalf("reply %q", text)
	}
}

// TestAgentsTabsShareReplies: the frames of a chat reply go to every socket
// of the path, as the SDK's server broadcasts them (each tab filters by the
// request's id): tab 2 gets tab 1's reply live, whole, not marked replayed;
// a socket on another path gets nothing; a raw text message's reply stays
// its sender's.
func TestAgentsTabsShareReplies(t *testing.T) {
	_, addr := startProxy(t, Config{Routes: []*Route{agentsRoute(demoBackend(demo.Agent{Pace: 2 * time.Millisecond}))}})
	tab1 := dialAgents(t, addr, "/agents/a/shared")
	tab2 := dialAgents(t, addr, "/agents/a/shared")
	other := dialAgents(t, addr, "/agents/a/other")
	time.Sleep(50 * time.Millisecond) // both joined before the reply begins

	tab1.chat("r1", "hello there")
	want, _ := tab1.reply("r1", false)
	got, seqs, complete := tab2.resumeFrames("r1")
	if got != want || len(seqs) != 0 || complete {
		t.Fatalf("tab 2 got %q (replayed seqs %v, replayComplete %v), want %q live", got, seqs, complete, want)
	}

	tab1.send("just text")
	for m := tab1.recv(); !strings.Contains(m, "just text"); m = tab1.recv() {
	}
	tab2.send(`{"type":"cf_agent_stream_resume_request","probeId":"p"}`)
	if m := tab2.recvJSON(); m["type"] != "cf_agent_stream_resume_none" {
		t.Fatalf("tab 2 got %v after tab 1's raw text message; want only its probe's answer", m)
	}
	other.send(`{"type":"cf_agent_stream_resume_request","probeId":"q"}`)
	if m := other.recvJSON(); m["type"] != "cf_agent_stream_resume_none" {
		t.Fatalf("a socket on another path got %v", m)
	}
}

// TestAgentsTabsShareRepliesSocketBackend: the same with a backend over a
// socket, whose replies the poller's goroutine reads (session_inline.go):
// with a follower on the path, each batch is handed to a goroutine to be
// written to it (fanOutAlone), and tab 2 still gets tab 1's reply live and
// whole.
func TestAgentsTabsShareRepliesSocketBackend(t *testing.T) {
	cb := &connicBackend{secret: "s", streaming: true}
	url := cb.serve(t)
	_, addr := startProxy(t, Config{Routes: []*Route{agentsRoute(connicBackendCfg(url, "s"))}})
	tab1 := dialAgents(t, addr, "/agents/a/shared")
	tab2 := dialAgents(t, addr, "/agents/a/shared")
	time.Sleep(50 * time.Millisecond) // both joined before the reply begins
	for _, id := range []string{"r1", "r2"} {
		tab1.chat(id, "hello over a socket "+id)
		want, _ := tab1.reply(id, false)
		got, seqs, complete := tab2.resumeFrames(id)
		if got != want || len(seqs) != 0 || complete || !strings.Contains(want, "hello over a socket "+id) {
			t.Fatalf("%s: tab 2 got %q (replayed seqs %v, replayComplete %v), want %q live", id, got, seqs, complete, want)
		}
	}
}

// TestAgentsTabsTakeTurns: two tabs of one path chat at once, again and
// again; each gets its own replies whole, and the other's as they come.
// Under -race this also checks the lock order of shared replies (room.go).
func TestAgentsTabsTakeTurns(t *testing.T) {
	_, addr := startProxy(t, Config{Routes: []*Route{agentsRoute(demoBackend(demo.Agent{}))}})
	tabs := []agentsClient{dialAgents(t, addr, "/agents/a/busy"), dialAgents(t, addr, "/agents/a/busy")}
	time.Sleep(50 * time.Millisecond)
	var wg sync.WaitGroup
	for i, tab := range tabs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 20 {
				id := fmt.Sprintf("t%d-%d", i, n)
				tab.chat(id, "ping "+id)
				for {
					m := tab.recvJSON()
					if m["id"] == id && m["done"] == true {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
}

// TestAgentsGetMessagesWithTicket: useAgentChat sends the socket's query,
// ticket included, to get-messages. The ticket admits the read of its own
// path's history without being used up, before and after the socket used
// it, until it expires; on another path's get-messages it admits nothing.
func TestAgentsGetMessagesWithTicket(t *testing.T) {
	team := secretAuth(t, "team-secret")
	tk, err := auth.NewTickets(auth.TicketsConfig{Name: "tickets", TTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rt := agentsRoute(demoBackend(demo.Agent{}))
	rt.Auth = []Authenticator{tk}
	_, addr := startProxy(t, Config{Routes: []*Route{rt}, Tickets: []*TicketIssuer{{Tickets: tk, IssueWith: team}}})
	status, m := postTicket(t, addr, "team-secret", `{"route":"agents","path":"/agents/a/b"}`)
	if status != 200 {
		t.Fatalf("issue: %d %v", status, m)
	}
	q := "?_pk=x&ticket=" + m["ticket"]
	if code, body := getJSON(t, addr, "/agents/a/b/get-messages"+q, ""); code != 200 || body != "[]" {
		t.Fatalf("get-messages before the socket: %d %s", code, body)
	}
	c := dialAgents(t, addr, "/agents/a/b"+q)
	c.chat("r1", "hello")
	c.reply("r1", false)
	if code, body := getJSON(t, addr, "/agents/a/b/get-messages"+q, ""); code != 200 || !strings.Contains(body, "assistant-r1") {
		t.Fatalf("get-messages after the socket: %d %s", code, body)
	}
	if code, body := getJSON(t, addr, "/agents/a/other/get-messages"+q, ""); code != 401 {
		t.Fatalf("get-messages of another path with the ticket: %d %s, want 401", code, body)
	}
	// The socket used it: a second socket cannot.
	if status, _ := dialRefused(t, wsURL(addr, "/agents/a/b"+q), nil); status != 401 {
		t.Fatalf("a second socket with the used ticket: %d, want 401", status)
	}
	time.Sleep(1100 * time.Millisecond)
	if code, _ := getJSON(t, addr, "/agents/a/b/get-messages"+q, ""); code != 401 {
		t.Fatalf("get-messages with an expired ticket: %d, want 401", code)
	}
}

// TestAgentsRelayGetMessagesFromBackend: on an agents ↔ agents relay the
// backend keeps the conversation, so get-messages is its answer: the
// request goes to the same path on the backend, with the backend's own
// headers and never the client's credential; a backend that does not
// answer gives 502.
func TestAgentsRelayGetMessagesFromBackend(t *testing.T) {
	type seen struct{ path, auth, secret, query string }
	got := make(chan seen, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("X-Backend-Secret"), r.URL.RawQuery}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `[{"id":"m1","role":"user","parts":[{"type":"text","text":"kept by the agent"}]}]`)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	team := secretAuth(t, "client-secret")
	b := &Backend{Name: "agent", Dialect: agents.Dialect, URL: "ws://" + ln.Addr().String() + "/agents/chat/{name}?v=1",
		Header: map[string]string{"X-Backend-Secret": "backend-secret"}}
	rt := agentsRoute(b)
	rt.Auth = team
	down := &Backend{Name: "down", Dialect: agents.Dialect, URL: "ws://" + closedAddr(t) + "/agents/chat/{name}"}
	rtDown := &Route{Name: "down", Path: "/down/:agent/:name", Client: agents.Dialect, Backend: down}
	_, addr := startProxy(t, Config{Routes: []*Route{rt, rtDown}})

	code, body := getJSON(t, addr, "/agents/a/room-1/get-messages", "client-secret")
	if code != 200 || !strings.Contains(body, "kept by the agent") {
		t.Fatalf("get-messages on the relay: %d %s", code, body)
	}
	s := <-got
	if s.path != "/agents/chat/room-1/get-messages" || s.query != "v=1" || s.secret != "backend-secret" || s.auth != "" {
		t.Fatalf("the backend saw %+v: want its own path, query and header, and no client credential", s)
	}
	if code, _ := getJSON(t, addr, "/agents/a/room-1/get-messages", ""); code != 401 {
		t.Fatalf("get-messages without a credential: %d, want 401", code)
	}
	if code, body := getJSON(t, addr, "/down/a/r/get-messages", ""); code != 502 || !strings.Contains(body, "backend_unavailable") {
		t.Fatalf("get-messages with the backend down: %d %s, want 502", code, body)
	}
}

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestAgentsHistoryShared: the conversation of a path goes to its other
// sockets when a client changes it, as the SDK's server sends the messages
// it persists: a chat request's user message reaches tab 2 before the
// reply's frames; an app's cf_agent_chat_messages replaces the history the
// proxy keeps (get-messages) and reaches tab 2 too.
func TestAgentsHistoryShared(t *testing.T) {
	_, addr := startProxy(t, Config{Routes: []*Route{agentsRoute(demoBackend(demo.Agent{}))}})
	tab1 := dialAgents(t, addr, "/agents/a/h")
	tab2 := dialAgents(t, addr, "/agents/a/h")
	time.Sleep(50 * time.Millisecond)

	tab1.chat("r1", "hello history")
	m := tab2.recvJSON()
	if m["type"] != "cf_agent_chat_messages" || !strings.Contains(fmt.Sprint(m["messages"]), "hello history") {
		t.Fatalf("tab 2's first frame %v, want the messages with the user's", m)
	}
	tab1.reply("r1", false)
	tab2.reply("r1", false)

	tab1.send(`{"type":"cf_agent_chat_messages","messages":[{"id":"x1","role":"user","parts":[{"type":"text","text":"edited"}]}]}`)
	m = tab2.recvJSON()
	if m["type"] != "cf_agent_chat_messages" || !strings.Contains(fmt.Sprint(m["messages"]), "edited") || strings.Contains(fmt.Sprint(m["messages"]), "hello history") {
		t.Fatalf("tab 2 got %v, want the edited messages only", m)
	}
	if code, body := getJSON(t, addr, "/agents/a/h/get-messages", ""); code != 200 || !strings.Contains(body, `"edited"`) || strings.Contains(body, "hello history") {
		t.Fatalf("get-messages after the edit: %d %s", code, body)
	}
}
