package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/agentbridge/agentbridge/auth"
	"github.com/agentbridge/agentbridge/demo"
	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/connic"
)

// A Connic-speaking backend, as the Connic document describes it: it wants
// its secret (header, query or first message), greets with "connected",
// acks every message and streams the reply word by word, or sends one
// "response" when streaming is off. The reply echoes the message and its
// context, so tests see both arrive.

type connicBackend struct {
	secret    string
	streaming bool
	secretIn  string      // header, query or first_frame
	seen      chan string // every secret presented, for the canary test
	count     bool        // prefix replies with the message's number on its connection
	garbage   bool        // answer a message with one that is not JSON, after the ack
}

func (cb *connicBackend) serve(t testing.TB) string {
	return "ws://" + serveTCP(t, cb.conn) + "/ws"
}

func (cb *connicBackend) conn(c net.Conn) {
	defer c.Close()
	var presented string
	u := ws.Upgrader{
		OnHeader: func(k, v []byte) error {
			if strings.EqualFold(string(k), "X-Connic-Secret") {
				presented = string(v)
			}
			return nil
		},
		OnRequest: func(uri []byte) error {
			if i := strings.Index(string(uri), "X-Connic-Secret="); i >= 0 {
				presented = strings.SplitN(string(uri[i+len("X-Connic-Secret="):]), "&", 2)[0]
			}
			return nil
		},
	}
	if _, err := u.Upgrade(c); err != nil {
		return
	}
	send := func(v any) bool {
		b, _ := json.Marshal(v)
		return wsutil.WriteServerText(c, b) == nil
	}
	if cb.secretIn == "first_frame" {
		msg, err := wsutil.ReadClientText(c)
		if err != nil {
			return
		}
		var f struct{ Secret string }
		_ = json.Unmarshal(msg, &f)
		presented = f.Secret
	}
	if cb.seen != nil {
		cb.seen <- presented
	}
	if presented != cb.secret {
		send(map[string]any{"type": "error", "message": "invalid secret"})
		_ = ws.WriteFrame(c, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusPolicyViolation, "unauthorized")))
		return
	}
	send(map[string]any{"type": "connected", "connector_run_id": "run-1", "session_id": "run-1", "agents": []string{"assistant"}})
	n := 0
	for {
		msg, err := wsutil.ReadClientText(c)
		if err != nil {
			return
		}
		var m struct {
			ID      string `json:"id"`
			Payload struct {
				Message string          `json:"message"`
				Context json.RawMessage `json:"context"`
			} `json:"payload"`
		}
		if json.Unmarshal(msg, &m) != nil {
			send(map[string]any{"type": "error", "message": "bad json"})
			continue
		}
		n++
		id := m.ID
		if id == "" {
			id = fmt.Sprint("backend-", n)
		}
		reply := "Echo: " + m.Payload.Message
		if cb.count {
			reply = fmt.Sprintf("#%d %s", n, reply)
		}
		if len(m.Payload.Context) > 0 {
			reply += " ctx=" + string(m.Payload.Context)
		}
		send(map[string]any{"type": "ack", "id": id, "message_number": n})
		if cb.garbage {
			_ = wsutil.WriteServerText(c, []byte(`{"type":"stream_chunk", not json`))
			continue
		}
		usage := map[string]int{"prompt_tokens": len(strings.Fields(m.Payload.Message)), "candidates_tokens": len(strings.Fields(reply))}
		if !cb.streaming {
			send(map[string]any{"type": "response", "id": id, "agent": "assistant", "response": reply, "token_usage": usage})
			continue
		}
		send(map[string]any{"type": "stream_start", "id": id, "agent": "assistant"})
		for _, w := range strings.SplitAfter(reply, " ") {
			send(map[string]any{"type": "stream_chunk", "id": id, "agent": "assistant", "chunk": w})
		}
		send(map[string]any{"type": "stream_end", "id": id, "agent": "assistant", "full_response": reply, "token_usage": usage})
	}
}

// connicClient speaks Connic to the proxy.
type connicClient struct{ *client }

func (c connicClient) sendJSON(v any) {
	b, _ := json.Marshal(v)
	c.send(string(b))
}

func (c connicClient) recvJSON() map[string]any {
	c.t.Helper()
	var m map[string]any
	raw := c.recv()
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		c.t.Fatalf("not JSON: %q", raw)
	}
	return m
}

// collect reads messages until one of type end and returns their types
// and the messages.
func (c connicClient) collect(end string) (types []string, msgs []map[string]any) {
	c.t.Helper()
	for {
		m := c.recvJSON()
		types = append(types, m["type"].(string))
		msgs = append(msgs, m)
		if m["type"] == end || m["type"] == "error" {
			return types, msgs
		}
	}
}

func secretAuth(t testing.TB, secrets ...string) []Authenticator {
	s, err := auth.NewSecret("team", secrets)
	if err != nil {
		t.Fatal(err)
	}
	return []Authenticator{s}
}

func connicRoute(name, path string, b *Backend, auths []Authenticator) *Route {
	return &Route{Name: name, Path: path, Client: connic.Dialect, Backend: b, Auth: auths}
}

func connicBackendCfg(url, secret string) *Backend {
	return &Backend{Name: "connic", Dialect: connic.Dialect, URL: url, Header: map[string]string{"X-Connic-Secret": secret}}
}

func TestConnicClientToPlainBackend(t *testing.T) {
	url, _ := startBackend(t, echoBackend)
	_, addr := startProxy(t, Config{Routes: []*Route{
		connicRoute("c2p", "/c2p", plainBackend(url), secretAuth(t, "client-secret")),
	}})
	c := connicClient{dial(t, wsURL(addr, "/c2p?X-Connic-Secret=client-secret"))}
	if m := c.recvJSON(); m["type"] != "connected" || m["connector_run_id"] == "" || m["session_id"] != m["connector_run_id"] {
		t.Fatalf("greeting = %v", m)
	}
	c.sendJSON(map[string]any{"type": "message", "id": "msg-001", "payload": map[string]any{"message": "hello", "context": map[string]any{"k": 1}}})
	types, msgs := c.collect("stream_end")
	if got := strings.Join(types, ","); got != "ack,stream_start,stream_chunk,stream_end" {
		t.Fatalf("types = %s (%v)", got, msgs)
	}
	for _, m := range msgs {
		if m["id"] != "msg-001" {
			t.Errorf("%s has id %v, want msg-001", m["type"], m["id"])
		}
	}
	if msgs[0]["message_number"] != 1.0 || msgs[3]["full_response"] != "echo: hello" {
		t.Errorf("ack %v, end %v", msgs[0], msgs[3])
	}
	// The bare form gets a generated id, used on every reply event.
	c.sendJSON(map[string]any{"message": "bare"})
	_, msgs = c.collect("stream_end")
	if msgs[0]["id"] != "msg-2" || msgs[3]["id"] != "msg-2" || msgs[0]["message_number"] != 2.0 {
		t.Errorf("bare message events %v", msgs)
	}
}

// TestConnicPipelinedAcks sends messages back to back in one write: the
// acks of one read leave together, yet each precedes its own reply, and an
// ack is not held back while the client's next message is still arriving.
func TestConnicPipelinedAcks(t *testing.T) {
	url, _ := startBackend(t, echoBackend)
	_, addr := startProxy(t, Config{Routes: []*Route{
		connicRoute("c2p", "/c2p", plainBackend(url), secretAuth(t, "client-secret")),
	}})
	c := connicClient{dial(t, wsURL(addr, "/c2p?X-Connic-Secret=client-secret"))}
	if m := c.recvJSON(); m["type"] != "connected" {
		t.Fatalf("greeting = %v", m)
	}
	msg := func(i int) []byte {
		return maskedText(fmt.Sprintf(`{"type":"message","id":"m%d","payload":{"message":"n%d"}}`, i, i))
	}
	var batch []byte
	for i := 1; i <= 5; i++ {
		batch = append(batch, msg(i)...)
	}
	next := msg(6)
	batch = append(batch, next[:10]...) // and the start of a sixth
	if _, err := c.nc.Write(batch); err != nil {
		t.Fatal(err)
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	acked, ended := map[string]bool{}, 0
	for ended < 5 {
		m := c.recvJSON()
		id, _ := m["id"].(string)
		switch m["type"] {
		case "ack":
			if want := float64(len(acked) + 1); m["message_number"] != want {
				t.Fatalf("ack %v: want message_number %v", m, want)
			}
			acked[id] = true
		case "stream_start", "stream_chunk":
			if !acked[id] {
				t.Fatalf("%v before the ack of %s", m, id)
			}
		case "stream_end":
			if m["full_response"] != "echo: n"+id[1:] {
				t.Fatalf("end %v", m)
			}
			ended++
		default:
			t.Fatalf("unexpected %v", m)
		}
	}
	if _, err := c.nc.Write(next[10:]); err != nil {
		t.Fatal(err)
	}
	if types, msgs := c.collect("stream_end"); types[0] != "ack" || msgs[0]["id"] != "m6" {
		t.Fatalf("sixth message: %v", msgs)
	}

	// A backend that never answers: only the proxy's flush before it
	// waits for the rest of the next message sends the ack.
	silent, _ := startBackend(t, func(c netConn) {
		for {
			if _, _, err := readClient(c); err != nil {
				return
			}
		}
	})
	_, addr = startProxy(t, Config{Routes: []*Route{connicRoute("c2s", "/c2s", plainBackend(silent), nil)}})
	c = connicClient{dial(t, wsURL(addr, "/c2s"))}
	if m := c.recvJSON(); m["type"] != "connected" {
		t.Fatalf("greeting = %v", m)
	}
	if _, err := c.nc.Write(append(msg(1), next[:10]...)); err != nil {
		t.Fatal(err)
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(time.Second))
	if m := c.recvJSON(); m["type"] != "ack" || m["id"] != "m1" {
		t.Fatalf("got %v, want the ack of m1", m)
	}
}

func TestPlainClientToConnicBackend(t *testing.T) {
	cb := &connicBackend{secret: "backend-secret", streaming: true}
	url := cb.serve(t)
	_, addr := startProxy(t, Config{Routes: []*Route{
		plainRoute("p2c", "/p2c", connicBackendCfg(url, "backend-secret")),
	}})
	c := dial(t, wsURL(addr, "/p2c"))
	c.send("hello connic")
	if got := c.recv(); got != "Echo: hello connic" {
		t.Errorf("reply = %q", got)
	}
}

// TestConnicBackendMalformedMessage checks that a backend message its
// dialect cannot decode ends the session for the client as a lost backend
// (the dialect's error, then 1014), whether the backend pump read it on
// the poller's goroutine (session_inline.go) or its own.
func TestConnicBackendMalformedMessage(t *testing.T) {
	cb := &connicBackend{secret: "backend-secret", streaming: true, garbage: true}
	url := cb.serve(t)
	srv, addr := startProxy(t, Config{Routes: []*Route{
		plainRoute("p2c", "/p2c", connicBackendCfg(url, "backend-secret")),
	}})
	for _, wait := range []time.Duration{0, 400 * time.Millisecond} {
		c := dial(t, wsURL(addr, "/p2c"))
		time.Sleep(wait) // past parkAfter: the backend leg parked, its pump on the poller
		c.send("hello")
		code, msgs := c.expectClose()
		if code != 1014 || len(msgs) != 1 || !strings.Contains(msgs[0], "backend_unavailable") {
			t.Errorf("after %v: close %d after %q, want backend_unavailable then 1014", wait, code, msgs)
		}
	}
	awaitNoSessions(t, srv, 2*time.Second, "a session whose backend sent garbage")
}

func TestConnicToConnic(t *testing.T) {
	for _, streaming := range []bool{true, false} {
		for _, in := range []string{"header", "query", "first_frame"} {
			t.Run(fmt.Sprintf("streaming=%v/secret_in=%s", streaming, in), func(t *testing.T) {
				cb := &connicBackend{secret: "backend-secret", streaming: streaming, secretIn: in}
				url := cb.serve(t)
				b := &Backend{Name: "connic", Dialect: connic.Dialect, URL: url}
				switch in {
				case "header":
					b.Header = map[string]string{"X-Connic-Secret": "backend-secret"}
				case "query":
					b.URL += "?X-Connic-Secret=backend-secret"
				case "first_frame":
					b.Options.Secret = "backend-secret"
				}
				whole := connicRoute("whole", "/whole", b, secretAuth(t, "client-secret"))
				whole.ClientOptions.Reply = translators.ReplyWhole
				_, addr := startProxy(t, Config{Routes: []*Route{
					connicRoute("pass", "/pass", b, secretAuth(t, "client-secret")),
					whole,
				}})
				for _, path := range []string{"/pass", "/whole"} {
					c := connicClient{dial(t, wsURL(addr, path))}
					c.sendJSON(map[string]any{"secret": "client-secret"})
					if m := c.recvJSON(); m["type"] != "connected" {
						t.Fatalf("%s: greeting %v", path, m)
					}
					c.sendJSON(map[string]any{"type": "message", "id": "q1", "payload": map[string]any{"message": "hi there", "context": map[string]any{"location": "New York"}}})
					end := "stream_end"
					if !streaming || path == "/whole" {
						end = "response"
					}
					types, msgs := c.collect(end)
					last := msgs[len(msgs)-1]
					full := last["full_response"]
					if full == nil {
						full = last["response"]
					}
					if full != `Echo: hi there ctx={"location":"New York"}` || last["id"] != "q1" {
						t.Errorf("%s: types %v, last %v", path, types, last)
					}
					if u := last["token_usage"].(map[string]any); u["prompt_tokens"] != 2.0 {
						t.Errorf("%s: usage %v", path, u)
					}
				}
			})
		}
	}
}

func TestConnicClientToDemo(t *testing.T) {
	_, addr := startProxy(t, Config{Routes: []*Route{
		connicRoute("demo", "/demo", demoBackend(demo.Agent{Thinking: true}), secretAuth(t, "s")),
	}})
	c := connicClient{dial(t, wsURL(addr, "/demo"))}
	c.sendJSON(map[string]any{"secret": "s"})
	if m := c.recvJSON(); m["type"] != "connected" || m["agents"].([]any)[0] != "demo" {
		t.Fatalf("greeting %v", m)
	}
	c.sendJSON(map[string]any{"type": "message", "id": "d1", "payload": map[string]any{"message": "one two"}})
	_, msgs := c.collect("stream_end")
	last := msgs[len(msgs)-1]
	if last["full_response"] != "You said: one two" {
		t.Errorf("full_response %v (thinking must not leak into the answer)", last["full_response"])
	}
	if u := last["token_usage"].(map[string]any); u["prompt_tokens"] != 2.0 || u["candidates_tokens"] != 4.0 {
		t.Errorf("usage %v", u)
	}
}

func TestConnicAuth(t *testing.T) {
	cb := &connicBackend{secret: "backend-secret", streaming: true, seen: make(chan string, 100)}
	url := cb.serve(t)
	_, addr := startProxy(t, Config{
		Routes:      []*Route{connicRoute("chat", "/chat", connicBackendCfg(url, "backend-secret"), secretAuth(t, "current", "previous"))},
		AuthTimeout: 200 * time.Millisecond,
	})
	// Pre-upgrade: a wrong header or query secret is a 401 with a JSON body.
	for _, tt := range []struct {
		name string
		path string
		hdr  ws.HandshakeHeader
	}{
		{"wrong header", "/chat", ws.HandshakeHeaderString("X-Connic-Secret: wrong\r\n")},
		{"other length", "/chat", ws.HandshakeHeaderString("X-Connic-Secret: currentcurrentcurrent\r\n")},
		{"wrong query", "/chat?X-Connic-Secret=nope", nil},
	} {
		status, body := dialRefused(t, wsURL(addr, tt.path), tt.hdr)
		if status != 401 || !strings.Contains(body, `"error":"unauthorized"`) {
			t.Errorf("%s: %d %q, want 401 unauthorized", tt.name, status, body)
		}
	}
	// Every accepted way in, including the second active secret.
	for _, tt := range []struct {
		name, path string
		hdr        ws.HandshakeHeader
		frame      string
	}{
		{"header", "/chat", ws.HandshakeHeaderString("X-Connic-Secret: current\r\n"), ""},
		{"query", "/chat?X-Connic-Secret=previous", nil, ""},
		{"first frame", "/chat", nil, `{"secret":"current"}`},
	} {
		c := connicClient{dialWith(t, wsURL(addr, tt.path), tt.hdr)}
		if tt.frame != "" {
			c.send(tt.frame)
		}
		if m := c.recvJSON(); m["type"] != "connected" {
			t.Errorf("%s: %v", tt.name, m)
		}
		c.nc.Close()
	}
	// In-band failures: an error message, then 1008; the backend never
	// sees the connection.
	for _, tt := range []struct{ name, first string }{
		{"wrong secret", `{"secret":"wrong"}`},
		{"message before auth", `{"type":"message","payload":{"message":"hi"}}`},
		{"not json", `hello`},
		{"silent", ""},
	} {
		c := connicClient{dial(t, wsURL(addr, "/chat"))}
		if tt.first != "" {
			c.send(tt.first)
		}
		code, msgs := c.expectClose()
		if code != ws.StatusPolicyViolation || len(msgs) != 1 || !strings.Contains(msgs[0], `"code":"unauthorized"`) {
			t.Errorf("%s: close %d after %q, want an unauthorized error then 1008", tt.name, code, msgs)
		}
	}
	// Every secret the backend saw was its own; none of the failed clients
	// reached it.
	close(cb.seen)
	n := 0
	for s := range cb.seen {
		n++
		if s != "backend-secret" {
			t.Errorf("backend was presented %q", s)
		}
	}
	if n != 3 {
		t.Errorf("backend saw %d connections, want 3 (the admitted clients only)", n)
	}
}

func TestConnicBadInputKeepsConnection(t *testing.T) {
	// A translating route: the proxy itself speaks Connic to the client.
	url, _ := startBackend(t, echoBackend)
	_, addr := startProxy(t, Config{Routes: []*Route{connicRoute("chat", "/chat", plainBackend(url), nil)}})
	c := connicClient{dial(t, wsURL(addr, "/chat"))}
	if m := c.recvJSON(); m["type"] != "connected" {
		t.Fatalf("greeting %v", m)
	}
	for _, tt := range []struct{ in, reason string }{
		{`{not json`, "invalid JSON"},
		{`{"type":"mesage"}`, `unknown type \"mesage\"`},
		{`{"type":"message","payload":{"message":7}}`, `\"message\" must be a string`},
		{`[]`, "expected a JSON object"},
	} {
		c.send(tt.in)
		m := c.recv()
		if !strings.Contains(m, `"type":"error"`) || !strings.Contains(m, tt.reason) {
			t.Errorf("%s: got %s, want an error naming %s", tt.in, m, tt.reason)
		}
	}
	// Still usable.
	c.sendJSON(map[string]any{"message": "after errors"})
	_, msgs := c.collect("stream_end")
	if msgs[len(msgs)-1]["full_response"] != "echo: after errors" {
		t.Errorf("after errors: %v", msgs)
	}
}

func TestConnicSessionRules(t *testing.T) {
	limited := connicRoute("limited", "/limited", demoBackend(demo.Agent{}), nil)
	limited.Session = Session{MaxMessages: 2}
	idle := connicRoute("idle", "/idle", demoBackend(demo.Agent{}), nil)
	idle.Session = Session{Timeout: 150 * time.Millisecond}
	nostream := connicRoute("whole", "/whole", demoBackend(demo.Agent{}), nil)
	nostream.ClientOptions.Reply = translators.ReplyWhole
	_, addr := startProxy(t, Config{Routes: []*Route{limited, idle, nostream}})

	c := connicClient{dial(t, wsURL(addr, "/limited"))}
	c.recvJSON()
	for i := range 2 {
		c.sendJSON(map[string]any{"message": fmt.Sprint("m", i)})
		c.collect("stream_end")
	}
	c.sendJSON(map[string]any{"message": "one too many"})
	code, msgs := c.expectClose()
	if code != ws.StatusPolicyViolation || len(msgs) != 1 || !strings.Contains(msgs[0], "message_limit") {
		t.Errorf("over the limit: close %d after %q", code, msgs)
	}

	c = connicClient{dial(t, wsURL(addr, "/idle"))}
	c.recvJSON()
	start := time.Now()
	code, msgs = c.expectClose()
	if code != ws.StatusPolicyViolation || len(msgs) != 1 || !strings.Contains(msgs[0], "session_timeout") || time.Since(start) > 2*time.Second {
		t.Errorf("idle: close %d after %q in %v", code, msgs, time.Since(start))
	}

	c = connicClient{dial(t, wsURL(addr, "/whole"))}
	c.recvJSON()
	c.sendJSON(map[string]any{"type": "message", "id": "w", "payload": map[string]any{"message": "x y"}})
	types, msgs2 := c.collect("response")
	msgs = nil
	if strings.Join(types, ",") != "ack,response" || msgs2[1]["response"] != "You said: x y" {
		t.Errorf("non-streaming: %v %v", types, msgs2)
	}
}

// TestConnicRelayConsumesSecretFrames: on a Connic to Connic route the
// relay forwards frames unchanged, but a client message that is a
// credential ({"secret": ...}, however written) is consumed, as a
// translating session consumes it: a client admitted by header that sends
// one anyway must not hand its secret to the backend.
func TestConnicRelayConsumesSecretFrames(t *testing.T) {
	const canary = "client-secret-canary"
	got := make(chan string, 100)
	url := "ws://" + serveTCP(t, func(c net.Conn) {
		if _, err := ws.Upgrade(c); err != nil {
			return
		}
		if wsutil.WriteServerText(c, []byte(`{"type":"connected","connector_run_id":"run-1","session_id":"run-1"}`)) != nil {
			return
		}
		for {
			msg, err := wsutil.ReadClientText(c)
			if err != nil {
				return
			}
			got <- string(msg)
			var m struct{ ID string }
			_ = json.Unmarshal(msg, &m)
			reply := fmt.Sprintf(`{"type":"response","id":%q,"agent":"assistant","response":"ok"}`, m.ID)
			if wsutil.WriteServerText(c, []byte(reply)) != nil {
				return
			}
		}
	}) + "/ws"
	rt := connicRoute("pass", "/pass", connicBackendCfg(url, "backend-secret"), secretAuth(t, canary))
	if !passthrough(rt) {
		t.Fatal("the route is not a relay")
	}
	_, addr := startProxy(t, Config{Routes: []*Route{rt}})
	c := connicClient{dialWith(t, wsURL(addr, "/pass"), ws.HandshakeHeaderString("X-Connic-Secret: "+canary+"\r\n"))}
	if m := c.recvJSON(); m["type"] != "connected" {
		t.Fatalf("greeting %v", m)
	}
	msg := func(id, text string) string {
		return fmt.Sprintf(`{"type":"message","id":%q,"payload":{"message":%q}}`, id, text)
	}
	ask := func(id string) {
		t.Helper()
		if m := c.recvJSON(); m["type"] != "response" || m["id"] != id {
			t.Fatalf("got %v, want the response to %s", m, id)
		}
	}
	for _, cred := range []string{
		`{"secret":"` + canary + `"}`,
		` { "secret" : "` + canary + `" } `,
		`{"type":"auth","secret":"` + canary + `"}`,
		`{"s\u0065cret":"` + canary + `"}`,
		`{"message":"hi","secret":"` + canary + `"}`,
	} {
		c.send(cred)
	}
	// A message that merely mentions a secret is a message.
	c.send(msg("q1", "tell me a secret"))
	ask("q1")
	// A credential between two messages in one write: the batch is cut
	// around it.
	var batch bytes.Buffer
	for _, p := range []string{msg("q2", "two"), `{"secret":"` + canary + `"}`, msg("q3", "three")} {
		_ = ws.WriteFrame(&batch, ws.MaskFrame(ws.NewTextFrame([]byte(p))))
	}
	if _, err := c.nc.Write(batch.Bytes()); err != nil {
		t.Fatal(err)
	}
	ask("q2")
	ask("q3")
	// A credential frame that arrives in two pieces is held until whole,
	// both when the pump runs on the poller's goroutine and (after a ping,
	// which moves it to a goroutine of its own) when it does not.
	var ping bytes.Buffer
	_ = ws.WriteFrame(&ping, ws.MaskFrame(ws.NewPingFrame(nil)))
	batch.Reset()
	_ = ws.WriteFrame(&batch, ws.MaskFrame(ws.NewTextFrame([]byte(`{"secret":"`+canary+`"}`))))
	split := batch.Bytes()
	for _, piece := range [][]byte{split[:12], split[12:], append(ping.Bytes(), split[:12]...), split[12:]} {
		if _, err := c.nc.Write(piece); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.send(msg("q4", "four"))
	ask("q4")
	var seen []string
	for len(got) > 0 {
		seen = append(seen, <-got)
	}
	want := []string{msg("q1", "tell me a secret"), msg("q2", "two"), msg("q3", "three"), msg("q4", "four")}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("the backend got:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
	for _, s := range seen {
		if strings.Contains(s, canary) {
			t.Errorf("the client's secret reached the backend: %s", s)
		}
	}
}
