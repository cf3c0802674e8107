package proxy

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/wiro"
)

// A Wiro-style backend, as the Wiro document describes it: REST send (with
// x-api-key) answered with an agenttoken; a socket on which clients
// subscribe to tokens and receive agent_subscribed, agent_start, one
// agent_output per word holding the whole text so far, and agent_end. It
// remembers conversations by sessionkey: the reply says how many messages
// the key has sent. The message "rewrite" makes it rewrite its text.

type wiroBackend struct {
	key      string
	mu       sync.Mutex
	sessions map[string]int
	replies  map[string]*wiroReply
	keysSeen []string     // every x-api-key presented
	flooded  atomic.Int64 // outputs written by flood
	wmu      sync.Mutex   // each frame is written whole: replies stream at once on one socket
}

type wiroReply struct {
	wmu       *sync.Mutex // the backend's write lock
	mu        sync.Mutex
	status    string
	text      string
	subs      []net.Conn
	cancelled bool
}

func (wb *wiroBackend) serve(t testing.TB) (apiURL, socketURL string) {
	wb.sessions, wb.replies = map[string]int{}, map[string]*wiroReply{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/UserAgent/Message/Send", wb.send)
	mux.HandleFunc("POST /v1/UserAgent/Message/Cancel", wb.cancel)
	mux.HandleFunc("GET /v1", wb.socket)
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/v1", "ws://" + ln.Addr().String() + "/v1"
}

func (wb *wiroBackend) answer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (wb *wiroBackend) send(w http.ResponseWriter, r *http.Request) {
	wb.mu.Lock()
	wb.keysSeen = append(wb.keysSeen, r.Header.Get("x-api-key"))
	wb.mu.Unlock()
	if r.Header.Get("x-api-key") != wb.key {
		wb.answer(w, 401, map[string]any{"result": false, "errors": []string{"unauthorized"}})
		return
	}
	var req struct{ UserAgentGUID, Message, SessionKey string }
	if json.NewDecoder(r.Body).Decode(&req) != nil {
		wb.answer(w, 400, map[string]any{"result": false, "errors": []string{"bad json"}})
		return
	}
	wb.mu.Lock()
	wb.sessions[req.SessionKey]++
	n := wb.sessions[req.SessionKey]
	token := fmt.Sprintf("tok%027d", len(wb.replies)+1)
	rp := &wiroReply{status: "agent_queue", wmu: &wb.wmu}
	wb.replies[token] = rp
	wb.mu.Unlock()
	go wb.generate(token, rp, req.Message, n)
	wb.answer(w, 200, map[string]any{"result": true, "errors": []string{}, "messageguid": "c3d4e5f6-a7b8-9012-cdef-345678901234", "agenttoken": token, "status": "agent_queue"})
}

func (wb *wiroBackend) cancel(w http.ResponseWriter, r *http.Request) {
	var req struct{ AgentToken string }
	_ = json.NewDecoder(r.Body).Decode(&req)
	wb.mu.Lock()
	rp := wb.replies[req.AgentToken]
	wb.mu.Unlock()
	if rp == nil {
		wb.answer(w, 404, map[string]any{"result": false, "errors": []string{"unknown token"}})
		return
	}
	rp.mu.Lock()
	rp.cancelled = true
	rp.mu.Unlock()
	wb.answer(w, 200, map[string]any{"result": true, "errors": []string{}})
}

func (wb *wiroBackend) generate(token string, rp *wiroReply, msg string, n int) {
	if msg == "stall" {
		return // never answered
	}
	if n, ok := strings.CutPrefix(msg, "flood "); ok {
		wb.flood(token, rp, n)
		return
	}
	time.Sleep(20 * time.Millisecond)
	rp.emit(token, "agent_start", "", true)
	words := strings.SplitAfter(fmt.Sprintf("Echo #%d: %s", n, msg), " ")
	if msg == "rewrite" {
		words = []string{"Hello ", "wrld", "\x00Hello world"}
	}
	text := ""
	for _, w := range words {
		time.Sleep(5 * time.Millisecond)
		rp.mu.Lock()
		cancelled := rp.cancelled
		rp.mu.Unlock()
		if cancelled {
			rp.emit(token, "agent_cancel", "", false)
			return
		}
		if strings.HasPrefix(w, "\x00") {
			text = w[1:]
		} else {
			text += w
		}
		rp.emit(token, "agent_output", text, true)
	}
	rp.emit(token, "agent_end", text, true)
}

// flood answers with n outputs as fast as the socket takes them, each a
// rewrite of 64 KiB (so each reaches a client whole), and no end: a reply
// that fills the buffers of a client that does not read.
func (wb *wiroBackend) flood(token string, rp *wiroReply, n string) {
	count, _ := strconv.Atoi(n)
	rp.emit(token, "agent_start", "", true)
	for i := range count {
		rp.emit(token, "agent_output", strings.Repeat(string(rune('a'+i%2)), 64<<10), true)
		wb.flooded.Add(1)
	}
}

func (rp *wiroReply) emit(token, typ, text string, result bool) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.status = typ
	var msg any = ""
	switch typ {
	case "agent_output", "agent_end":
		rp.text = text
		msg = map[string]any{"type": "progressGenerate", "task": "Generate", "speed": "10.0", "speedType": "words/s",
			"elapsedTime": "0.1s", "tokenCount": len(strings.Fields(text)) + 1, "wordCount": len(strings.Fields(text)),
			"raw": text, "thinking": []string{}, "answer": []string{text}, "isThinking": false}
	case "agent_cancel":
		msg = "The operation was aborted."
	}
	b, _ := json.Marshal(map[string]any{"type": typ, "agenttoken": token, "message": msg, "result": result})
	rp.wmu.Lock()
	defer rp.wmu.Unlock()
	for _, c := range rp.subs {
		_ = wsutil.WriteServerText(c, b)
	}
}

func (wb *wiroBackend) socket(w http.ResponseWriter, r *http.Request) {
	c, _, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		return
	}
	defer c.Close()
	for {
		msg, err := wsutil.ReadClientText(c)
		if err != nil {
			return
		}
		var sub struct{ Type, AgentToken string }
		_ = json.Unmarshal(msg, &sub)
		wb.mu.Lock()
		rp := wb.replies[sub.AgentToken]
		wb.mu.Unlock()
		if rp == nil {
			continue
		}
		rp.mu.Lock()
		b, _ := json.Marshal(map[string]any{"type": "agent_subscribed", "agenttoken": sub.AgentToken, "status": rp.status, "debugoutput": rp.text, "result": true})
		wb.wmu.Lock()
		_ = wsutil.WriteServerText(c, b)
		wb.wmu.Unlock()
		rp.subs = append(rp.subs, c)
		rp.mu.Unlock()
	}
}

func wiroBackendCfg(apiURL, socketURL, key string) *Backend {
	return &Backend{Name: "wiro", Dialect: wiro.Dialect, URL: socketURL, APIURL: apiURL, APIKey: key, AgentID: "guid-1"}
}

func TestPlainClientToWiroBackend(t *testing.T) {
	wb := &wiroBackend{key: "backend-key"}
	api, sock := wb.serve(t)
	b := wiroBackendCfg(api, sock, "backend-key")
	stream := plainRoute("stream", "/stream", b)
	stream.ClientOptions = translators.Options{Reply: translators.ReplyStream, EndMarker: "[END]"}
	_, addr := startProxy(t, Config{Routes: []*Route{plainRoute("whole", "/whole", b), stream}})

	c := dial(t, wsURL(addr, "/whole"))
	c.send("hello")
	if got := c.recv(); got != "Echo #1: hello" {
		t.Errorf("first reply %q", got)
	}
	// The same proxy session is the same backend conversation.
	c.send("again")
	if got := c.recv(); got != "Echo #2: again" {
		t.Errorf("second reply %q", got)
	}
	// Accumulated text arrives as deltas; a rewrite as the new text.
	s := dial(t, wsURL(addr, "/stream"))
	s.send("one two")
	var got []string
	for m := s.recv(); m != "[END]"; m = s.recv() {
		got = append(got, m)
	}
	if strings.Join(got, "|") != "Echo |#1: |one |two" {
		t.Errorf("deltas %q", got)
	}
	s.send("rewrite")
	got = nil
	for m := s.recv(); m != "[END]"; m = s.recv() {
		got = append(got, m)
	}
	if strings.Join(got, "|") != "Hello |wrld|Hello world" {
		t.Errorf("rewrite %q, want the replace sent whole", got)
	}
	wb.checkKeys(t)
}

// checkKeys fails t if the backend was shown any API key but its own: a
// client's credential must never reach it.
func (wb *wiroBackend) checkKeys(t *testing.T) {
	t.Helper()
	wb.mu.Lock()
	defer wb.mu.Unlock()
	for _, k := range wb.keysSeen {
		if k != wb.key {
			t.Errorf("backend saw key %q, want only its own %q: the client's secret leaked", k, wb.key)
		}
	}
}

func TestConnicClientToWiroBackend(t *testing.T) {
	wb := &wiroBackend{key: "backend-key"}
	api, sock := wb.serve(t)
	_, addr := startProxy(t, Config{Routes: []*Route{
		connicRoute("c2w", "/c2w", wiroBackendCfg(api, sock, "backend-key"), secretAuth(t, "client-secret")),
	}})
	c := connicClient{dialWith(t, wsURL(addr, "/c2w"), ws.HandshakeHeaderString("X-Connic-Secret: client-secret\r\n"))}
	c.recvJSON() // connected
	for i, want := range []string{"Echo #1: first", "Echo #2: second"} {
		msg := []string{"first", "second"}[i]
		c.sendJSON(map[string]any{"type": "message", "id": "m" + msg, "payload": map[string]any{"message": msg}})
		types, msgs := c.collect("stream_end")
		last := msgs[len(msgs)-1]
		if last["full_response"] != want || last["id"] != "m"+msg {
			t.Errorf("reply %d: %v %v", i, types, last)
		}
		// Wiro reports no prompt tokens: 0 on the Connic side.
		if u := last["token_usage"].(map[string]any); u["prompt_tokens"] != 0.0 || u["candidates_tokens"] == 0.0 {
			t.Errorf("usage %v", u)
		}
	}
	wb.checkKeys(t)
}

// connicOnWiro starts a Wiro backend and a proxy with a Connic route to
// it, and returns a client past its greeting.
func connicOnWiro(t *testing.T) connicClient {
	t.Helper()
	wb := &wiroBackend{key: "backend-key"}
	api, sock := wb.serve(t)
	_, addr := startProxy(t, Config{Routes: []*Route{
		connicRoute("c2w", "/c2w", wiroBackendCfg(api, sock, "backend-key"), nil),
	}})
	c := connicClient{dial(t, wsURL(addr, "/c2w"))}
	c.recvJSON() // connected
	return c
}

// TestConnicPipelinedToWiroBackend sends two messages back to back on one
// session. The backend streams both replies at once, their events
// interleaved on the shared socket; the client must still get each reply
// whole and in order — the first's deltas never mixed with the second's.
func TestConnicPipelinedToWiroBackend(t *testing.T) {
	c := connicOnWiro(t)
	msgs := []string{"alpha beta gamma delta epsilon", "one two three four five six"}
	for i, m := range msgs {
		c.sendJSON(map[string]any{"type": "message", "id": fmt.Sprint("m", i), "payload": map[string]any{"message": m}})
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i, m := range msgs {
		id, want := fmt.Sprint("m", i), fmt.Sprintf("Echo #%d: %s", i+1, m)
		var text strings.Builder
		for {
			ev := c.recvJSON()
			if ev["type"] == "ack" {
				continue
			}
			if ev["id"] != id {
				t.Fatalf("reply %d: got %v while %s streams", i, ev, id)
			}
			if ev["type"] == "stream_chunk" {
				text.WriteString(ev["chunk"].(string))
			}
			if ev["type"] == "stream_end" {
				if text.String() != want || ev["full_response"] != want {
					t.Fatalf("reply %d: chunks %q, full_response %q, want %q", i, text.String(), ev["full_response"], want)
				}
				break
			}
		}
	}
}

// TestWiroLaterRepliesHeldBackBounded: while the first reply never comes,
// the backend streams the second; the session holds it back for its turn,
// but only up to maxHeldBack, then ends as for a lost backend.
func TestWiroLaterRepliesHeldBackBounded(t *testing.T) {
	defer func(n int) { maxHeldBack = n }(maxHeldBack)
	maxHeldBack = 600 // a few of the second reply's messages
	c := connicOnWiro(t)
	c.sendJSON(map[string]any{"type": "message", "id": "m0", "payload": map[string]any{"message": "stall"}})
	c.sendJSON(map[string]any{"type": "message", "id": "m1", "payload": map[string]any{"message": "one two three four five six seven eight"}})
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	code, msgs := c.expectClose()
	if code != 1014 {
		t.Fatalf("close %d after %q, want 1014", code, msgs)
	}
	for _, m := range msgs {
		if strings.Contains(m, `"stream_`) {
			t.Fatalf("%s reached the client before the first reply", m)
		}
	}
	if last := msgs[len(msgs)-1]; !strings.Contains(last, "backend_unavailable") {
		t.Fatalf("last message %s, want the backend_unavailable error", last)
	}
}

func TestWiroToWiro(t *testing.T) {
	wb := &wiroBackend{key: "backend-key"}
	api, sock := wb.serve(t)
	_, addr := startProxy(t, Config{Routes: []*Route{
		wiroRoute("w2w", "/v1", wiroBackendCfg(api, sock, "backend-key"), secretAuth(t, "client-key")),
	}})
	_, r1 := wiroSend(t, addr, "/v1", "client-key", sendBody("hi", "conv"))
	_, r2 := wiroSend(t, addr, "/v1", "client-key", sendBody("there", "conv"))
	c := dial(t, wsURL(addr, "/v1"))
	for i, tok := range []string{r1.AgentToken, r2.AgentToken} {
		evs := c.wiroEvents(tok, true)
		var got string
		if last := evs[len(evs)-1]; last.Type == "agent_subscribed" {
			got = last.DebugOutput
		} else {
			got = lastProgress(t, evs).Raw
		}
		if want := []string{"Echo #1: hi", "Echo #2: there"}[i]; got != want {
			t.Errorf("reply %d = %q, want %q", i, got, want)
		}
	}
}

func TestWiroBackendUnavailable(t *testing.T) {
	b := wiroBackendCfg("http://127.0.0.1:1/v1", "ws://127.0.0.1:1/v1", "k")
	_, addr := startProxy(t, Config{Routes: []*Route{plainRoute("p", "/p", b)}})
	if status, _ := dialRefused(t, wsURL(addr, "/p"), nil); status != 502 {
		t.Errorf("status %d, want 502", status)
	}
}

func TestWiroClientToConnicBackend(t *testing.T) {
	// Conversation memory through the session key: the Connic backend
	// remembers per connection, and each key has its own connection.
	cb := &connicBackend{secret: "b", streaming: true, count: true}
	url := cb.serve(t)
	_, addr := startProxy(t, Config{Routes: []*Route{wiroRoute("w", "/v1", connicBackendCfg(url, "b"), nil)}})
	c := dial(t, wsURL(addr, "/v1"))
	for i, tt := range []struct{ key, msg, want string }{
		{"alice", "hi", "#1 Echo: hi"},
		{"alice", "again", "#2 Echo: again"},
		{"bob", "hello", "#1 Echo: hello"},
	} {
		_, r := wiroSend(t, addr, "/v1", "", sendBody(tt.msg, tt.key))
		evs := c.wiroEvents(r.AgentToken, true)
		var got string
		if last := evs[len(evs)-1]; last.Type == "agent_subscribed" {
			got = last.DebugOutput
		} else {
			got = lastProgress(t, evs).Raw
		}
		if got != tt.want {
			t.Errorf("send %d: %q, want %q", i, got, tt.want)
		}
	}
}
