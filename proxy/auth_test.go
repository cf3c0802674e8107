package proxy

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/golang-jwt/jwt/v5"

	"github.com/agentbridge/agentbridge/auth"
	"github.com/agentbridge/agentbridge/demo"
)

// Authentication at the proxy: one test per pitfall, over real sockets.

func postTicket(t *testing.T, addr, bearer, body string) (int, map[string]string) {
	t.Helper()
	return postTicketAs(t, addr, "", bearer, body)
}

func TestTickets(t *testing.T) {
	team := secretAuth(t, "team-secret")
	tk, err := auth.NewTickets(auth.TicketsConfig{Name: "tickets", TTL: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	withTickets := func(name, path string) *Route {
		rt := plainRoute(name, path, demoBackend(demo.Agent{}))
		rt.Auth = []Authenticator{tk, team[0]}
		return rt
	}
	_, addr := startProxy(t, Config{
		Routes:  []*Route{withTickets("chat", "/chat"), withTickets("other", "/other"), withTickets("agents", "/agents/:agent/:name"), plainRoute("open", "/open", demoBackend(demo.Agent{}))},
		Tickets: []*TicketIssuer{{Tickets: tk, IssueWith: team}},
	})

	// Issuing: the caller must be admitted by issue_with.
	for _, tt := range []struct {
		bearer, body string
		status       int
	}{
		{"", `{"route":"chat"}`, 401},
		{"wrong", `{"route":"chat"}`, 401},
		{"team-secret", `{"route":"nope"}`, 404},
		{"team-secret", `{"route":"open"}`, 404},
		{"team-secret", `not json`, 400},
		{"team-secret", `{"route":"agents"}`, 400},
	} {
		if status, m := postTicket(t, addr, tt.bearer, tt.body); status != tt.status {
			t.Errorf("POST %s with %q: %d %v, want %d", tt.body, tt.bearer, status, m, tt.status)
		}
	}
	status, m := postTicket(t, addr, "team-secret", `{"route":"chat"}`)
	if status != 200 || m["ticket"] == "" || m["expires_at"] == "" || !strings.HasSuffix(m["url"], "/chat?ticket="+m["ticket"]) {
		t.Fatalf("issue: %d %v", status, m)
	}
	// The url works once; a reuse is refused.
	c := dial(t, m["url"])
	c.send("hi")
	if got := c.recv(); got != "You said: hi" {
		t.Errorf("reply %q", got)
	}
	if status, _ := dialRefused(t, m["url"], nil); status != 401 {
		t.Errorf("ticket reuse: %d, want 401", status)
	}
	// A ticket for another route is refused there.
	_, m = postTicket(t, addr, "team-secret", `{"route":"chat"}`)
	if status, _ := dialRefused(t, wsURL(addr, "/other?ticket="+m["ticket"]), nil); status != 401 {
		t.Errorf("ticket for another route: %d, want 401", status)
	}
	// Expired.
	_, m = postTicket(t, addr, "team-secret", `{"route":"chat"}`)
	time.Sleep(350 * time.Millisecond)
	if status, _ := dialRefused(t, m["url"], nil); status != 401 {
		t.Errorf("expired ticket: %d, want 401", status)
	}
	// A route with parameters needs the concrete path.
	status, m = postTicket(t, addr, "team-secret", `{"route":"agents","path":"/agents/a/b"}`)
	if status != 200 || !strings.Contains(m["url"], "/agents/a/b?ticket=") {
		t.Fatalf("issue with path: %d %v", status, m)
	}
	// As a subprotocol, next to a plain one: the answer is never the ticket.
	hs := dialProtocols(t, wsURL(addr, "/agents/a/b"), []string{"agentbridge", "ticket." + m["ticket"]})
	if hs != "agentbridge" {
		t.Errorf("answered subprotocol %q, want agentbridge", hs)
	}
	// 100 clients race one ticket: exactly one gets in.
	_, m = postTicket(t, addr, "team-secret", `{"route":"chat"}`)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, _, _, err := ws.Dial(t.Context(), m["url"])
			if err == nil {
				ok.Add(1)
				nc.Close()
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("%d of 100 concurrent uses of one ticket succeeded, want exactly 1", ok.Load())
	}
}

// dialProtocols connects offering protocols and returns the one answered.
func dialProtocols(t *testing.T, url string, protocols []string) string {
	t.Helper()
	nc, _, hs, err := ws.Dialer{Protocols: protocols}.Dial(t.Context(), url)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	nc.Close()
	return hs.Protocol
}

func hsToken(t *testing.T, secret string, claims jwt.MapClaims) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWTAtTheProxy(t *testing.T) {
	key := "0123456789abcdef0123456789abcdef"
	j, err := auth.NewJWT(auth.JWTConfig{Name: "sso", Algorithms: []string{"HS256"}, Secret: []byte(key), Audience: "agentbridge"})
	if err != nil {
		t.Fatal(err)
	}
	// A backend that records what it was sent, to check what crosses.
	var mu sync.Mutex
	var seen []string
	idURL := startHeaderRecorder(t, &mu, &seen)
	idBackend := plainBackend(idURL)
	idBackend.IdentityHeader = "X-Agent-User"
	rt := plainRoute("chat", "/chat", demoBackend(demo.Agent{}))
	rt.Auth = []Authenticator{j}
	fwd := plainRoute("fwd", "/fwd", idBackend)
	fwd.Auth = []Authenticator{j}
	_, addr := startProxy(t, Config{Routes: []*Route{rt, fwd}})

	good := hsToken(t, key, jwt.MapClaims{"sub": "alice", "aud": "agentbridge", "exp": time.Now().Add(time.Hour).Unix()})
	for _, tt := range []struct {
		name      string
		path      string
		hdr       ws.HandshakeHeader
		protocols []string
		status    int
	}{
		{"bearer", "/chat", ws.HandshakeHeaderString("Authorization: Bearer " + good + "\r\n"), nil, 0},
		{"access_token", "/chat?access_token=" + good, nil, nil, 0},
		{"subprotocol", "/chat", nil, []string{"jwt." + good}, 0},
		{"missing", "/chat", nil, nil, 401},
		{"expired", "/chat?access_token=" + hsToken(t, key, jwt.MapClaims{"aud": "agentbridge", "exp": time.Now().Add(-time.Hour).Unix()}), nil, nil, 401},
		{"wrong aud", "/chat?access_token=" + hsToken(t, key, jwt.MapClaims{"aud": "else", "exp": time.Now().Add(time.Hour).Unix()}), nil, nil, 401},
		{"alg none", "/chat?access_token=eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJhdWQiOiJhZ2VudGJyaWRnZSIsImV4cCI6OTk5OTk5OTk5OX0.", nil, nil, 401},
	} {
		var body bytes.Buffer
		d := ws.Dialer{Header: tt.hdr, Protocols: tt.protocols, OnStatusError: func(status int, _ []byte, r io.Reader) { _, _ = io.Copy(&body, r) }}
		nc, _, hs, err := d.Dial(t.Context(), wsURL(addr, tt.path))
		if tt.status == 0 {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
				continue
			}
			if hs.Protocol != "" {
				t.Errorf("%s: answered subprotocol %q: a token must never be echoed", tt.name, hs.Protocol)
			}
			nc.Close()
			continue
		}
		if err == nil {
			nc.Close()
			t.Errorf("%s: admitted, want %d", tt.name, tt.status)
		} else if !strings.Contains(err.Error(), "401") || !strings.Contains(body.String(), `"error":"unauthorized"`) {
			t.Errorf("%s: %v %q, want 401 with a JSON body", tt.name, err, body.String())
		}
	}
	// The backend gets the identity, never the token.
	c := dialWith(t, wsURL(addr, "/fwd"), ws.HandshakeHeaderString("Authorization: Bearer "+good+"\r\n"))
	c.send("x")
	c.recv()
	mu.Lock()
	got := strings.Join(seen, "\n")
	mu.Unlock()
	if !strings.Contains(got, "X-Agent-User: alice") || strings.Contains(got, good) || strings.Contains(strings.ToLower(got), "authorization") {
		t.Errorf("backend handshake:\n%s\nwant X-Agent-User: alice and no token", got)
	}

	// A session ends with 1008 when its token expires.
	short := hsToken(t, key, jwt.MapClaims{"aud": "agentbridge", "exp": time.Now().Add(1500 * time.Millisecond).Unix()})
	c = dial(t, wsURL(addr, "/chat?access_token="+short))
	start := time.Now()
	code, msgs := c.expectClose()
	if code != ws.StatusPolicyViolation || len(msgs) != 1 || !strings.Contains(msgs[0], "credential_expired") || time.Since(start) > 3*time.Second {
		t.Errorf("at expiry: close %d after %q in %v", code, msgs, time.Since(start))
	}
}

// startHeaderRecorder runs a plain echo backend that records the request
// line and headers of every handshake it gets.
func startHeaderRecorder(t *testing.T, mu *sync.Mutex, seen *[]string) string {
	record := func(line string) {
		mu.Lock()
		*seen = append(*seen, line)
		mu.Unlock()
	}
	return "ws://" + serveTCP(t, func(c net.Conn) {
		u := ws.Upgrader{
			OnRequest: func(uri []byte) error { record("GET " + string(uri)); return nil },
			OnHeader:  func(k, v []byte) error { record(string(k) + ": " + string(v)); return nil },
		}
		if _, err := u.Upgrade(c); err != nil {
			return
		}
		echoBackend(c)
	}) + "/"
}

func TestTrustedHeader(t *testing.T) {
	trusted, _ := auth.NewTrustedHeader(auth.TrustedHeaderConfig{Name: "edge", Header: "X-Forwarded-User", TrustedProxies: []string{"127.0.0.1/32"}})
	elsewhere, _ := auth.NewTrustedHeader(auth.TrustedHeaderConfig{Name: "edge2", Header: "X-Forwarded-User", TrustedProxies: []string{"10.0.0.0/8"}})
	a := plainRoute("a", "/a", demoBackend(demo.Agent{}))
	a.Auth = []Authenticator{trusted}
	b := plainRoute("b", "/b", demoBackend(demo.Agent{}))
	b.Auth = []Authenticator{elsewhere}
	_, addr := startProxy(t, Config{Routes: []*Route{a, b}})
	hdr := ws.HandshakeHeaderString("X-Forwarded-User: alice\r\n")
	if status, _ := dialRefused(t, wsURL(addr, "/a"), hdr); status != 0 {
		t.Errorf("from a trusted proxy: %d, want admitted", status)
	}
	if status, _ := dialRefused(t, wsURL(addr, "/b"), hdr); status != 401 {
		t.Errorf("header from an untrusted address: %d, want 401", status)
	}
}

func TestOriginAllowList(t *testing.T) {
	rt := plainRoute("a", "/a", demoBackend(demo.Agent{}))
	rt.Origins = []string{"https://app.example.com"}
	_, addr := startProxy(t, Config{Routes: []*Route{rt}})
	status, body := dialRefused(t, wsURL(addr, "/a"), ws.HandshakeHeaderString("Origin: https://evil.example.com\r\n"))
	if status != 403 || !strings.Contains(body, "forbidden_origin") {
		t.Errorf("evil origin: %d %q, want 403", status, body)
	}
	if status, _ := dialRefused(t, wsURL(addr, "/a"), ws.HandshakeHeaderString("Origin: https://app.example.com\r\n")); status != 0 {
		t.Errorf("allowed origin: %d", status)
	}
}

// TestCanaryNeverLeaks presents a canary credential every way a client can,
// right and wrong, with debug logging on, and checks it never shows in the
// proxy's logs nor anywhere on the backend leg.
func TestCanaryNeverLeaks(t *testing.T) {
	const canary = "CANARY-7f3a9c1e-credential"
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var mu sync.Mutex
	var seen []string
	url := startHeaderRecorder(t, &mu, &seen)
	plainRec := plainBackend(url)
	good := secretAuth(t, canary)
	p := plainRoute("p", "/p", plainRec)
	p.Auth = good
	cr := connicRoute("c", "/c", plainRec, good)
	_, addr := startProxy(t, Config{Routes: []*Route{p, cr}, Logger: logger})

	// Right credentials, every way in.
	for _, c := range []*client{
		dialWith(t, wsURL(addr, "/p"), ws.HandshakeHeaderString("Authorization: Bearer "+canary+"\r\n")),
		dialWith(t, wsURL(addr, "/c?X-Connic-Secret="+canary), nil),
		dialWith(t, wsURL(addr, "/c"), ws.HandshakeHeaderString("X-Connic-Secret: "+canary+"\r\n")),
	} {
		c.send(`{"message":"hello"}`)
		c.recv()
	}
	fc := connicClient{dial(t, wsURL(addr, "/c"))}
	fc.sendJSON(map[string]string{"secret": canary})
	fc.recvJSON()
	fc.sendJSON(map[string]string{"message": "hello"})
	fc.collect("stream_end")
	// Wrong ones that embed the canary.
	dialRefused(t, wsURL(addr, "/p?access_token="+canary+"x"), nil)
	dialRefused(t, wsURL(addr, "/c"), ws.HandshakeHeaderString("X-Connic-Secret: x"+canary+"\r\n"))
	bad := connicClient{dial(t, wsURL(addr, "/c"))}
	bad.sendJSON(map[string]string{"secret": canary + "!"})
	bad.expectClose()

	mu.Lock()
	backendSaw := strings.Join(seen, "\n")
	mu.Unlock()
	logMu.Lock()
	logged := logs.String()
	logMu.Unlock()
	if strings.Contains(backendSaw, "CANARY") {
		t.Errorf("the canary reached the backend:\n%s", backendSaw)
	}
	if strings.Contains(logged, "CANARY") {
		t.Errorf("the canary is in the logs:\n%s", logged)
	}
	if !strings.Contains(logged, "msg=refused") {
		t.Errorf("refusals were not logged at all; the check above proves nothing:\n%s", logged)
	}
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
