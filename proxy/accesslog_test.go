package proxy

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/golang-jwt/jwt/v5"

	"github.com/agentbridge/agentbridge/auth"
	"github.com/agentbridge/agentbridge/demo"
)

// waitLog waits until the log holds a line matching re, and returns it.
func waitLog(t *testing.T, logs *syncBuffer, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindString(logs.String()); m != "" {
			return m
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no log line matches %v:\n%s", re, logs.String())
	return ""
}

// TestAccessLogSession: a relay and a translating session each log one
// line at their end, with the route, dialects, client, subject, counts,
// close code and who closed.
func TestAccessLogSession(t *testing.T) {
	logger, logs := debugLogger()
	url, _ := startBackend(t, echoBackend)
	key := "0123456789abcdef0123456789abcdef"
	j, err := auth.NewJWT(auth.JWTConfig{Name: "sso", Algorithms: []string{"HS256"}, Secret: []byte(key)})
	if err != nil {
		t.Fatal(err)
	}
	relayRt := plainRoute("relay", "/relay", plainBackend(url))
	relayRt.Auth = []Authenticator{j}
	_, addr := startProxy(t, Config{Logger: logger, Routes: []*Route{
		relayRt,
		plainRoute("demo", "/demo", demoBackend(demo.Agent{Prefix: "said: "})),
	}})

	tok := hsToken(t, key, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()})
	c := dialWith(t, wsURL(addr, "/relay"), ws.HandshakeHeaderString("Authorization: Bearer "+tok+"\r\n"))
	c.send("one")
	c.recv()
	c.send("two")
	c.recv()
	c.closeNormally()
	line := waitLog(t, logs, regexp.MustCompile(`msg=session route=relay .*\n`))
	for _, want := range []string{"kind=relay", "client_dialect=plain", "backend_dialect=plain", "client=127.0.0.1", "subject=alice", "auth=sso",
		"msgs_from_client=2", "msgs_from_backend=2", "close_code=1000", "closed_by=client", "bytes_from_backend=", "duration="} {
		if !strings.Contains(line, want) {
			t.Errorf("relay record lacks %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, tok) {
		t.Errorf("the token is in the record:\n%s", line)
	}

	d := dial(t, wsURL(addr, "/demo"))
	d.send("hello")
	d.recv()
	d.nc.Close() // vanishes without a close
	line = waitLog(t, logs, regexp.MustCompile(`msg=session route=demo .*\n`))
	for _, want := range []string{"kind=translate", "backend_dialect=demo", "msgs_from_client=1", "close_code=1006", "closed_by=client", `reason="connection lost"`} {
		if !strings.Contains(line, want) {
			t.Errorf("translating record lacks %q:\n%s", want, line)
		}
	}
	if strings.Contains(line, "msgs_from_backend") || strings.Contains(line, "subject=") {
		t.Errorf("a translating session on an open route reports what it does not know:\n%s", line)
	}
}

// TestAccessLogNoCredentials puts a canary in every place a credential
// can travel (query, header, subprotocol, ticket, JWT), right and wrong,
// and checks the canary is in no log line, while the refusals and the
// sessions were logged.
func TestAccessLogNoCredentials(t *testing.T) {
	const canary = "CANARY-51d0e2-credential"
	logger, logs := debugLogger()
	key := "0123456789abcdef0123456789abcdef"
	j, err := auth.NewJWT(auth.JWTConfig{Name: "sso", Algorithms: []string{"HS256"}, Secret: []byte(key)})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := auth.NewTickets(auth.TicketsConfig{Name: "tickets", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	team := secretAuth(t, canary)
	rt := plainRoute("chat", "/chat", demoBackend(demo.Agent{}))
	rt.Auth = []Authenticator{j, tk, team[0]}
	_, addr := startProxy(t, Config{Logger: logger, Routes: []*Route{rt},
		Tickets: []*TicketIssuer{{Tickets: tk, IssueWith: team}}})

	// The JWT carries the canary in a claim; the token itself is a credential too.
	tok := hsToken(t, key, jwt.MapClaims{"sub": "bob", "note": canary, "exp": time.Now().Add(time.Hour).Unix()})
	status, m := postTicket(t, addr, canary, `{"route":"chat"}`)
	if status != 200 {
		t.Fatalf("ticket: %d", status)
	}
	for _, c := range []*client{
		dialWith(t, wsURL(addr, "/chat"), ws.HandshakeHeaderString("Authorization: Bearer "+canary+"\r\n")),
		dialWith(t, wsURL(addr, "/chat?access_token="+tok), nil),
		dialWith(t, wsURL(addr, "/chat?ticket="+m["ticket"]), nil),
	} {
		c.send("hello")
		c.recv()
		c.closeNormally()
	}
	dialProtocols(t, wsURL(addr, "/chat"), []string{"agentbridge", "jwt." + tok})
	for _, u := range []string{"/chat?access_token=" + canary, "/chat?ticket=" + canary, "/chat?ticket=" + m["ticket"], "/chat?access_token=" + tok + "x"} {
		if st, _ := dialRefused(t, wsURL(addr, u), nil); st != 401 {
			t.Errorf("%s: status %d, want 401", u, st)
		}
	}
	dialRefused(t, wsURL(addr, "/chat"), ws.HandshakeHeaderString("Authorization: Bearer x"+canary+"\r\nSec-WebSocket-Protocol: ticket."+canary+"\r\n"))
	waitLog(t, logs, regexp.MustCompile(`msg=refused route=chat client=127.0.0.1 status=401 reason=unauthorized detail=(invalid|replayed)`))
	waitLog(t, logs, regexp.MustCompile(`msg=session route=chat .*subject=bob`))
	out := logs.String()
	for _, secret := range []string{canary, tok, m["ticket"], tok[strings.LastIndexByte(tok, '.')+1:]} {
		if strings.Contains(out, secret) {
			t.Errorf("a credential (%.12s...) is in the logs:\n%s", secret, out)
		}
	}
}

// TestRefusalLogRateLimited: a flood of refused handshakes from one
// address logs a few lines, then one line per second saying how many were
// suppressed.
func TestRefusalLogRateLimited(t *testing.T) {
	logger, logs := debugLogger()
	rt := plainRoute("locked", "/locked", demoBackend(demo.Agent{}))
	rt.Auth = secretAuth(t, "s3cret")
	_, addr := startProxy(t, Config{Logger: logger, Routes: []*Route{rt}})
	for range 40 {
		if st, _ := dialRefused(t, wsURL(addr, "/locked"), nil); st != 401 {
			t.Fatalf("status %d, want 401", st)
		}
	}
	if n := strings.Count(logs.String(), "msg=refused"); n < refusalBurst || n > refusalBurst+2 {
		t.Errorf("%d refusal lines for 40 refusals, want about %d:\n%s", n, refusalBurst, logs.String())
	}
}

func TestRefusalBucket(t *testing.T) {
	var l refusalLog
	a := netip.MustParseAddr("192.0.2.1")
	b := netip.MustParseAddr("192.0.2.2")
	now := time.Unix(1000, 0)
	for i := range refusalBurst {
		if _, ok := l.allow(a, now); !ok {
			t.Fatalf("refusal %d of the burst not allowed", i)
		}
	}
	for range 3 {
		if _, ok := l.allow(a, now); ok {
			t.Fatal("allowed past the burst")
		}
	}
	if _, ok := l.allow(b, now); !ok {
		t.Error("another address is limited by the first one's flood")
	}
	if n, ok := l.allow(a, now.Add(refusalEvery)); !ok || n != 3 {
		t.Errorf("after %v: allowed %v, suppressed %d; want true, 3", refusalEvery, ok, n)
	}
}
