package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/auth"
	"github.com/agentbridge/agentbridge/demo"
)

// rawUpgradeLine sends one hand-written upgrade request for path with the given
// request line version and Connection header, and returns the status line
// of the answer. It reads until the proxy closes the connection.
func rawUpgradeLine(t *testing.T, addr, path, version, connection string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "GET " + path + " " + version + "\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: " + connection +
		"\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

// liveBackend is a backend that counts its open connections: each stays
// open until the proxy closes it, or the test ends.
func liveBackend(t *testing.T) (url string, live *counter) {
	live = &counter{}
	var mu sync.Mutex
	var open []net.Conn
	url, _ = startBackend(t, func(c net.Conn) {
		mu.Lock()
		open = append(open, c)
		mu.Unlock()
		live.add(1)
		defer live.add(-1)
		for {
			if _, _, err := readClient(c); err != nil {
				return
			}
		}
	})
	t.Cleanup(func() { // before startBackend's, which waits for the handlers
		mu.Lock()
		defer mu.Unlock()
		for _, c := range open {
			c.Close()
		}
	})
	return url, live
}

func TestUpgradeThatWouldCloseGivesSlotBack(t *testing.T) {
	// fasthttp writes a 101 but never runs the hijack handler for a request
	// whose connection is to be closed: such a request must neither keep a
	// connection slot nor leave a backend leg open.
	forms := []struct{ name, version, connection string }{
		{"HTTP/1.0", "HTTP/1.0", "Upgrade"},
		{"Connection close", "HTTP/1.1", "Upgrade, close"},
	}
	for _, path := range []string{"/relay", "/inband"} {
		for _, f := range forms {
			t.Run(path[1:]+"/"+f.name, func(t *testing.T) {
				url, live := liveBackend(t)
				_, addr := startProxy(t, Config{
					Routes: []*Route{
						connicRoute("inband", "/inband", plainBackend(url), secretAuth(t, "s3cret")),
						plainRoute("relay", "/relay", plainBackend(url)),
					},
					MaxConnections:      2,
					MaxConnectionsPerIP: 2,
				})
				var line string
				for range 20 {
					line = rawUpgradeLine(t, addr, path, f.version, f.connection)
				}
				// A WebSocket handshake needs HTTP/1.1 and a connection kept open.
				if !strings.Contains(line, " 400 ") {
					t.Errorf("answered %q, want 400", line)
				}
				hdr := ws.HandshakeHeaderString("X-Connic-Secret: s3cret\r\n")
				if status, body := dialRefused(t, wsURL(addr, path), hdr); status != 0 {
					t.Errorf("after 20 such upgrades a good client got %d %s", status, body)
				}
				time.Sleep(50 * time.Millisecond) // let a leg opened by mistake show
				waitFor(t, func() bool { return live.get() == 0 })
			})
		}
	}
}

func TestClientVanishingAfter101GivesSlotBack(t *testing.T) {
	// A client of an in-band route that goes between the 101 and its first
	// frame gives its slot back, and no backend leg is opened for it.
	url, conns := startBackend(t, echoBackend)
	_, addr := startProxy(t, Config{
		Routes:              []*Route{connicRoute("inband", "/inband", plainBackend(url), secretAuth(t, "s3cret"))},
		MaxConnections:      2,
		MaxConnectionsPerIP: 2,
	})
	for range 20 {
		// Each waits for a slot the ones before it gave back.
		waitFor(t, func() bool {
			nc, _, _, err := ws.Dial(context.Background(), wsURL(addr, "/inband"))
			if err == nil {
				nc.Close()
			}
			return err == nil
		})
	}
	waitFor(t, func() bool {
		status, _ := dialRefused(t, wsURL(addr, "/inband"), ws.HandshakeHeaderString("X-Connic-Secret: s3cret\r\n"))
		return status == 0
	})
	if n := conns.get(); n > 1 {
		t.Errorf("backend saw %d connections, want at most the admitted client's", n)
	}
}

func TestUpgradeOfResetConnectionGivesSlotBack(t *testing.T) {
	// A client that pipelines a request before its upgrade and resets the
	// connection at once can make fasthttp fail to flush the first answer
	// and skip the upgrade's hijack handler: the slot and the backend leg
	// are given back all the same.
	url, live := liveBackend(t)
	_, addr := startProxy(t, Config{
		Routes:              []*Route{plainRoute("relay", "/relay", plainBackend(url))},
		MaxConnections:      2,
		MaxConnectionsPerIP: 2,
		HandshakeTimeout:    200 * time.Millisecond,
	})
	req := "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" +
		"GET /relay HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	for range 20 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte(req))
		_ = c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
	waitFor(t, func() bool {
		status, _ := dialRefused(t, wsURL(addr, "/relay"), nil)
		return status == 0
	})
	waitFor(t, func() bool { return live.get() == 0 })
}

func TestSecretOnlyInItsOwnPlaces(t *testing.T) {
	// A secret provider reads the dialect's header and query parameter and
	// Authorization: Bearer; where tickets and tokens go, a secret is no
	// credential.
	rt := plainRoute("a", "/a", demoBackend(demo.Agent{}))
	rt.Auth = secretAuth(t, "team-secret")
	_, addr := startProxy(t, Config{Routes: []*Route{rt}})
	for _, tt := range []struct {
		name, path string
		hdr        string
	}{
		{"?access_token=", "/a?access_token=team-secret", ""},
		{"?ticket=", "/a?ticket=team-secret", ""},
		{"jwt. subprotocol", "/a", "Sec-WebSocket-Protocol: jwt.team-secret\r\n"},
		{"ticket. subprotocol", "/a", "Sec-WebSocket-Protocol: ticket.team-secret\r\n"},
	} {
		if status, _ := dialRefused(t, wsURL(addr, tt.path), ws.HandshakeHeaderString(tt.hdr)); status != 401 {
			t.Errorf("secret as %s: %d, want 401", tt.name, status)
		}
	}
	if status, body := dialRefused(t, wsURL(addr, "/a"), ws.HandshakeHeaderString("Authorization: Bearer team-secret\r\n")); status != 0 {
		t.Errorf("secret as Authorization: Bearer: %d %s", status, body)
	}
}

func TestTwoOriginHeadersRefused(t *testing.T) {
	// The first Origin is allowed, the second is not: a request with more
	// than one is refused whichever the proxy would read.
	rt := plainRoute("a", "/a", demoBackend(demo.Agent{}))
	rt.Origins = []string{"https://app.example.com"}
	open := plainRoute("b", "/b", demoBackend(demo.Agent{}))
	_, addr := startProxy(t, Config{Routes: []*Route{rt, open}})
	two := ws.HandshakeHeaderString("Origin: https://app.example.com\r\nOrigin: https://evil.example.com\r\n")
	for _, path := range []string{"/a", "/b"} {
		if status, body := dialRefused(t, wsURL(addr, path), two); status != 403 || !strings.Contains(body, "forbidden_origin") {
			t.Errorf("%s: two Origin headers: %d %q, want 403", path, status, body)
		}
	}
}

// postTicketAs is postTicket with the Host header the caller claims ("":
// addr).
func postTicketAs(t *testing.T, addr, host, bearer, body string) (int, map[string]string) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+addr+"/auth/tickets", strings.NewReader(body))
	if host != "" {
		req.Host = host
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestTicketsBoundToPath(t *testing.T) {
	team := secretAuth(t, "team-secret")
	tk, err := auth.NewTickets(auth.TicketsConfig{Name: "tickets"})
	if err != nil {
		t.Fatal(err)
	}
	rt := plainRoute("plain", "/plain/:name", demoBackend(demo.Agent{}))
	rt.Auth = []Authenticator{tk}
	cfg := Config{
		Routes:    []*Route{rt, plainRoute("open", "/open", demoBackend(demo.Agent{}))},
		Tickets:   []*TicketIssuer{{Tickets: tk, IssueWith: team}},
		PublicURL: "https://agents.example.com",
	}
	_, addr := startProxy(t, cfg)

	// An anonymous caller learns nothing about routes.
	for _, body := range []string{`{"route":"nope"}`, `{"route":"open"}`, `{"route":"plain","path":"/plain/bob"}`} {
		if status, m := postTicketAs(t, addr, addr, "", body); status != 401 {
			t.Errorf("anonymous %s: %d %v, want 401", body, status, m)
		}
	}
	// A path with a query or a fragment is refused.
	for _, path := range []string{"/plain/bob?x=1", "/plain/bob#x"} {
		if status, m := postTicketAs(t, addr, addr, "team-secret", `{"route":"plain","path":"`+path+`"}`); status != 400 {
			t.Errorf("path %q: %d %v, want 400", path, status, m)
		}
	}
	// The url is built on public_url, whatever Host the caller sent.
	status, m := postTicketAs(t, addr, "evil.example", "team-secret", `{"route":"plain","path":"/plain/bob"}`)
	if want := "wss://agents.example.com/plain/bob?ticket=" + m["ticket"]; status != 200 || m["url"] != want {
		t.Errorf("issue: %d %v, want url %s", status, m, want)
	}
	// The ticket is for /plain/bob, not for another path of the route.
	if status, _ := dialRefused(t, wsURL(addr, "/plain/alice?ticket="+m["ticket"]), nil); status != 401 {
		t.Errorf("ticket for /plain/bob on /plain/alice: %d, want 401", status)
	}
	_, m = postTicketAs(t, addr, addr, "team-secret", `{"route":"plain","path":"/plain/bob"}`)
	if status, body := dialRefused(t, wsURL(addr, "/plain/bob?ticket="+m["ticket"]), nil); status != 0 {
		t.Errorf("ticket on its own path: %d %s", status, body)
	}

	// Without public_url, the url names the address the proxy was reached
	// at, never the caller's Host.
	cfg.PublicURL = ""
	_, addr = startProxy(t, cfg)
	_, m = postTicketAs(t, addr, "evil.example", "team-secret", `{"route":"plain","path":"/plain/bob"}`)
	if want := "ws://" + addr + "/plain/bob?ticket="; !strings.HasPrefix(m["url"], want) {
		t.Errorf("url %q, want it to start with %s", m["url"], want)
	}
}
