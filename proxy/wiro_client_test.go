package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"

	"github.com/agentbridge/agentbridge/demo"
	"github.com/agentbridge/agentbridge/translators/wiro"
)

// Wiro clients: REST send, socket subscribe, accumulated text.

func wiroRoute(name, path string, b *Backend, auths []Authenticator) *Route {
	return &Route{Name: name, Path: path, Client: wiro.Dialect, Backend: b, Auth: auths}
}

type wiroResult struct {
	Result      bool     `json:"result"`
	Errors      []string `json:"errors"`
	MessageGUID string   `json:"messageguid"`
	AgentToken  string   `json:"agenttoken"`
	Status      string   `json:"status"`
}

// wiroSend posts a message and returns the HTTP status and the answer.
func wiroSend(t testing.TB, addr, prefix, key, body string) (int, wiroResult) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+addr+prefix+"/UserAgent/Message/Send", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r wiroResult
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("send answer is not JSON: %v", err)
	}
	return resp.StatusCode, r
}

func sendBody(msg, sessionKey string) string {
	b, _ := json.Marshal(map[string]string{"useragentguid": "guid-1", "message": msg, "sessionkey": sessionKey})
	return string(b)
}

type wiroEvent struct {
	Type        string          `json:"type"`
	AgentToken  string          `json:"agenttoken"`
	Status      string          `json:"status"`
	DebugOutput string          `json:"debugoutput"`
	Message     json.RawMessage `json:"message"`
	Result      bool            `json:"result"`
}

type progress struct {
	Raw        string   `json:"raw"`
	Answer     []string `json:"answer"`
	Thinking   []string `json:"thinking"`
	IsThinking bool     `json:"isThinking"`
	WordCount  int      `json:"wordCount"`
	TokenCount int      `json:"tokenCount"`
	Speed      string   `json:"speed"`
	Elapsed    string   `json:"elapsedTime"`
}

// subscribe subscribes c to token and reads events until the reply ends.
func (c *client) wiroEvents(token string, subscribe bool) []wiroEvent {
	c.t.Helper()
	if subscribe {
		c.send(`{"type":"agent_info","agenttoken":"` + token + `"}`)
	}
	var evs []wiroEvent
	for {
		var ev wiroEvent
		if err := json.Unmarshal([]byte(c.recv()), &ev); err != nil {
			c.t.Fatal(err)
		}
		evs = append(evs, ev)
		switch ev.Type {
		case "agent_end", "agent_error", "agent_cancel":
			return evs
		case "agent_subscribed":
			if ev.Status == "agent_end" || ev.Status == "unknown" || ev.Status == "agent_error" || ev.Status == "agent_cancel" {
				return evs
			}
		}
	}
}

func types(evs []wiroEvent) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Type)
	}
	return strings.Join(s, ",")
}

func lastProgress(t testing.TB, evs []wiroEvent) progress {
	var p progress
	if err := json.Unmarshal(evs[len(evs)-1].Message, &p); err != nil {
		t.Fatalf("last event message: %v", err)
	}
	return p
}

func TestWiroClientToDemo(t *testing.T) {
	_, addr := startProxy(t, Config{Routes: []*Route{
		wiroRoute("wiro", "/v1", demoBackend(demo.Agent{Pace: 5 * time.Millisecond, Thinking: true}), secretAuth(t, "api-key")),
	}})
	status, r := wiroSend(t, addr, "/v1", "api-key", sendBody("Explain quantum computing", "user-42"))
	if status != 200 || !r.Result || len(r.AgentToken) != 30 || r.Status != "agent_queue" || len(r.MessageGUID) != 36 || r.Errors == nil {
		t.Fatalf("send = %d %+v", status, r)
	}
	c := dial(t, wsURL(addr, "/v1"))
	evs := c.wiroEvents(r.AgentToken, true)
	if evs[0].Type != "agent_subscribed" || !evs[0].Result {
		t.Fatalf("first event %+v", evs[0])
	}
	// agent_start comes unless the reply had started before the
	// subscription, which the subscribed status then says.
	started := strings.Contains(types(evs), "agent_start") || evs[0].Status == "agent_start" || evs[0].Status == "agent_output"
	if !started || !strings.Contains(types(evs), "agent_output") || evs[len(evs)-1].Type != "agent_end" {
		t.Fatalf("events %s", types(evs))
	}
	p := lastProgress(t, evs)
	if p.Raw != "<think>"+strings.Join(p.Thinking, "")+"</think>You said: Explain quantum computing" ||
		strings.Join(p.Answer, "") != "You said: Explain quantum computing" || p.WordCount != 5 || p.IsThinking {
		t.Errorf("final %+v", p)
	}
	// Outputs grow monotonically: each holds the whole text so far.
	prev := ""
	sawThinking := false
	for _, e := range evs {
		if e.Type != "agent_output" {
			continue
		}
		var q progress
		_ = json.Unmarshal(e.Message, &q)
		sawThinking = sawThinking || q.IsThinking
		if !strings.HasPrefix(q.Raw, prev) {
			t.Errorf("raw %q does not extend %q", q.Raw, prev)
		}
		prev = q.Raw
	}
	if !sawThinking {
		t.Errorf("no agent_output had isThinking")
	}
	// A late subscriber, after the end, gets the whole text at once.
	late := dial(t, wsURL(addr, "/v1"))
	evs = late.wiroEvents(r.AgentToken, true)
	if len(evs) != 1 || evs[0].Status != "agent_end" || !strings.HasSuffix(evs[0].DebugOutput, "You said: Explain quantum computing") {
		t.Errorf("late subscriber got %+v", evs)
	}
	// An unknown token.
	evs = late.wiroEvents("nope", true)
	if evs[0].Status != "unknown" {
		t.Errorf("unknown token: %+v", evs[0])
	}
}

func TestWiroSubscribeMidStream(t *testing.T) {
	_, addr := startProxy(t, Config{Routes: []*Route{
		wiroRoute("wiro", "/v1", demoBackend(demo.Agent{Pace: 30 * time.Millisecond}), nil),
	}})
	_, r := wiroSend(t, addr, "/v1", "", sendBody("one two three four five six", "k"))
	time.Sleep(100 * time.Millisecond) // a few words are out
	c := dial(t, wsURL(addr, "/v1"))
	evs := c.wiroEvents(r.AgentToken, true)
	first := evs[0]
	if first.Type != "agent_subscribed" || first.Status != "agent_output" || !strings.HasPrefix(first.DebugOutput, "You ") {
		t.Fatalf("mid-stream subscription: %+v", first)
	}
	// Nothing is lost: the first output after the snapshot extends it.
	var q progress
	_ = json.Unmarshal(evs[1].Message, &q)
	if !strings.HasPrefix(q.Raw, first.DebugOutput) || len(q.Raw) <= len(first.DebugOutput) {
		t.Errorf("after snapshot %q came %q", first.DebugOutput, q.Raw)
	}
	if p := lastProgress(t, evs); p.Raw != "You said: one two three four five six" {
		t.Errorf("final %q", p.Raw)
	}
}

// countingBackend is a plain backend that remembers the conversation: it
// answers "#n: text" where n counts the messages on its connection.
func countingBackend(c net.Conn) {
	n := 0
	for {
		msg, _, err := readClient(c)
		if err != nil {
			return
		}
		n++
		time.Sleep(10 * time.Millisecond)
		writeText(c, fmt.Sprintf("#%d: %s", n, msg))
	}
}

func TestWiroSessionKeyKeepsConversation(t *testing.T) {
	url, conns := startBackend(t, countingBackend)
	_, addr := startProxy(t, Config{Routes: []*Route{wiroRoute("wiro", "/v1", plainBackend(url), nil)}})
	c := dial(t, wsURL(addr, "/v1"))
	// Three sends on key a, one on b: a's replies count 1, 2, 3 in order.
	var tokens []string
	for _, k := range []string{"a", "a", "b", "a"} {
		_, r := wiroSend(t, addr, "/v1", "", sendBody("msg-"+k, k))
		tokens = append(tokens, r.AgentToken)
	}
	want := []string{"#1: msg-a", "#2: msg-a", "#1: msg-b", "#3: msg-a"}
	for i, tok := range tokens {
		evs := c.wiroEvents(tok, true)
		var got string
		if last := evs[len(evs)-1]; last.Type == "agent_subscribed" {
			got = last.DebugOutput
		} else {
			got = lastProgress(t, evs).Raw
		}
		if got != want[i] {
			t.Errorf("reply %d = %q, want %q", i, got, want[i])
		}
	}
	if conns.get() != 2 {
		t.Errorf("backend connections = %d, want 2 (one per session key)", conns.get())
	}
}

func TestWiroREST(t *testing.T) {
	_, addr := startProxy(t, Config{Routes: []*Route{
		wiroRoute("wiro", "/v1", demoBackend(demo.Agent{Pace: 200 * time.Millisecond}), secretAuth(t, "api-key")),
		wiroRoute("dead", "/dead", plainBackend("ws://127.0.0.1:1/"), nil),
	}})
	for _, tt := range []struct {
		name, prefix, key, body string
		status                  int
		err                     string
	}{
		{"missing key", "/v1", "", sendBody("x", ""), 401, "missing credentials"},
		{"wrong key", "/v1", "nope", sendBody("x", ""), 401, "invalid credentials"},
		{"bad json", "/v1", "api-key", "{", 400, "invalid JSON body"},
		{"no message", "/v1", "api-key", `{"sessionkey":"a"}`, 400, `"message" is required`},
		{"backend down", "/dead", "", sendBody("x", ""), 502, "unavailable"},
	} {
		status, r := wiroSend(t, addr, tt.prefix, tt.key, tt.body)
		if status != tt.status || r.Result || len(r.Errors) != 1 || !strings.Contains(r.Errors[0], tt.err) {
			t.Errorf("%s: %d %+v, want %d with %q", tt.name, status, r, tt.status, tt.err)
		}
	}
	// Cancel a reply in progress: subscribers get agent_cancel.
	_, r := wiroSend(t, addr, "/v1", "api-key", sendBody("a long message to cancel", "k"))
	c := dial(t, wsURL(addr, "/v1"))
	c.send(`{"type":"agent_info","agenttoken":"` + r.AgentToken + `"}`)
	c.recv() // agent_subscribed
	resp, err := http.Post("http://"+addr+"/v1/UserAgent/Message/Cancel", "application/json",
		bytes.NewReader([]byte(`{"agenttoken":"`+r.AgentToken+`"}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("cancel without key: %d, want 401", resp.StatusCode)
	}
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/UserAgent/Message/Cancel", strings.NewReader(`{"agenttoken":"`+r.AgentToken+`"}`))
	req.Header.Set("x-api-key", "api-key")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("cancel: %d", resp.StatusCode)
	}
	evs := c.wiroEvents("", false)
	if last := evs[len(evs)-1]; last.Type != "agent_cancel" || last.Result {
		t.Errorf("after cancel: %s", types(evs))
	}
	// A bad subscription gets an agent_error naming the problem; the socket
	// stays open.
	c.send(`{"type":"agent_info"}`)
	if m := c.recv(); !strings.Contains(m, `"agent_error"`) || !strings.Contains(m, "agenttoken") {
		t.Errorf("bad subscription: %s", m)
	}
	c.send(`{"type":"agent_info","agenttoken":"` + r.AgentToken + `"}`)
	if m := c.recv(); !strings.Contains(m, `"status":"agent_cancel"`) {
		t.Errorf("resubscribe after cancel: %s", m)
	}
	_ = wsutil.WriteClientText
}

func TestWiroConversationClosesWhenIdle(t *testing.T) {
	ended := make(chan struct{}, 4)
	url, conns := startBackend(t, func(c netConn) {
		countingBackend(c)
		ended <- struct{}{}
	})
	rt := wiroRoute("w", "/v1", plainBackend(url), nil)
	rt.Session.Timeout = 200 * time.Millisecond
	_, addr := startProxy(t, Config{Routes: []*Route{rt}})
	_, r := wiroSend(t, addr, "/v1", "", sendBody("hi", "k"))
	c := dial(t, wsURL(addr, "/v1"))
	c.wiroEvents(r.AgentToken, true)
	select {
	case <-ended:
	case <-time.After(3 * time.Second):
		t.Fatal("the idle conversation's backend connection was not closed")
	}
	// The next send on the key opens a new conversation.
	_, r = wiroSend(t, addr, "/v1", "", sendBody("again", "k"))
	evs := c.wiroEvents(r.AgentToken, true)
	last := evs[len(evs)-1]
	got := last.DebugOutput
	if last.Type != "agent_subscribed" {
		got = lastProgress(t, evs).Raw
	}
	if got != "#1: again" || conns.get() != 2 {
		t.Errorf("after the idle close: %q on %d backend connections, want a fresh conversation", got, conns.get())
	}
}
