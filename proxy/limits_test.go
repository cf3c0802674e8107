package proxy

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/agentbridge/agentbridge/demo"
	"github.com/agentbridge/agentbridge/translators"
)

// Limits and faults, each over loopback, bounded in count and time.

func TestSlowlorisDoesNotDelayGoodClients(t *testing.T) {
	srv, addr := startProxy(t, Config{
		Routes:           []*Route{plainRoute("demo", "/demo", demoBackend(demo.Agent{}))},
		HandshakeTimeout: 500 * time.Millisecond,
	})
	_ = srv
	// 200 clients send half a handshake and stall.
	var slow []net.Conn
	for range 200 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		slow = append(slow, c)
		_, _ = c.Write([]byte("GET /demo HTTP/1.1\r\nHost: x\r\nUpgr"))
	}
	defer func() {
		for _, c := range slow {
			c.Close()
		}
	}()
	start := time.Now()
	c := dial(t, wsURL(addr, "/demo"))
	c.send("hi")
	if got := c.recv(); got != "You said: hi" {
		t.Errorf("reply %q", got)
	}
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Errorf("a good client took %v beside 200 slow handshakes", d)
	}
	// The slow ones are dropped at the handshake deadline.
	_ = slow[0].SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 512)
	for {
		if _, err := slow[0].Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("a stalled handshake was not dropped after the 500ms deadline")
			}
			break
		}
	}
}

func TestHeaderSizeLimit(t *testing.T) {
	_, addr := startProxy(t, Config{Routes: []*Route{plainRoute("demo", "/demo", demoBackend(demo.Agent{}))}, MaxHeaderBytes: 4096})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /demo HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 8000))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 431 {
		t.Errorf("status %d, want 431", resp.StatusCode)
	}
}

func TestConnectionLimits(t *testing.T) {
	// A translating session and a relay each give their slot back when they
	// end (a relay ends after its handler returned, from a pump).
	url, _ := startBackend(t, echoBackend)
	for _, rt := range []*Route{
		plainRoute("demo", "/demo", demoBackend(demo.Agent{})),
		plainRoute("relay", "/relay", plainBackend(url)),
	} {
		_, addr := startProxy(t, Config{Routes: []*Route{rt}, MaxConnections: 3})
		var held []*client
		for range 3 {
			held = append(held, dial(t, wsURL(addr, rt.Path)))
		}
		if status, body := dialRefused(t, wsURL(addr, rt.Path), nil); status != 503 || !strings.Contains(body, "server_full") {
			t.Errorf("%s: over the total: %d %q, want 503", rt.Path, status, body)
		}
		held[0].closeNormally()
		waitFor(t, func() bool { status, _ := dialRefused(t, wsURL(addr, rt.Path), nil); return status == 0 })
	}

	_, addr := startProxy(t, Config{Routes: []*Route{plainRoute("demo", "/demo", demoBackend(demo.Agent{}))}, MaxConnectionsPerIP: 2})
	a, b := dial(t, wsURL(addr, "/demo")), dial(t, wsURL(addr, "/demo"))
	if status, body := dialRefused(t, wsURL(addr, "/demo"), nil); status != 429 || !strings.Contains(body, "too_many_connections") {
		t.Errorf("over the per-address cap: %d %q, want 429", status, body)
	}
	a.closeNormally()
	b.closeNormally()
}

func TestMessageRateLimit(t *testing.T) {
	url, _ := startBackend(t, echoBackend)
	limited := func(name string, b *Backend) *Route {
		rt := plainRoute(name, "/"+name, b)
		rt.Limits.MessageRate, rt.Limits.MessageBurst = 5, 5
		return rt
	}
	_, addr := startProxy(t, Config{Routes: []*Route{limited("relay", plainBackend(url)), limited("translate", demoBackend(demo.Agent{}))}})
	for _, path := range []string{"/relay", "/translate"} {
		c := dial(t, wsURL(addr, path))
		go func() {
			for range 50 {
				if wsutil.WriteClientText(c.nc, []byte("flood")) != nil {
					return
				}
			}
		}()
		code, msgs := c.expectClose()
		// On a relay, echoes already in flight may arrive after the error.
		if code != ws.StatusPolicyViolation || !strings.Contains(strings.Join(msgs, "\n"), `"code":"rate_limited"`) {
			t.Errorf("%s: close %d after %d messages (last %q), want the rate error, then 1008", path, code, len(msgs), last(msgs))
		}
	}
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

func TestPingFlood(t *testing.T) {
	rt := plainRoute("demo", "/demo", demoBackend(demo.Agent{}))
	rt.Limits.ControlRate = 10
	_, addr := startProxy(t, Config{Routes: []*Route{rt}})
	c := dial(t, wsURL(addr, "/demo"))
	go func() {
		for range 200 {
			if ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewPingFrame([]byte("p")))) != nil {
				return
			}
		}
	}()
	if code, _ := c.expectClose(); code != ws.StatusPolicyViolation {
		t.Errorf("ping flood: close %d, want 1008", code)
	}
}

func TestSlowConsumerIsClosed(t *testing.T) {
	// The backend streams far more than a client that reads nothing can
	// take: the write deadline closes the session; memory stays bounded
	// because nothing queues.
	stop := make(chan struct{})
	url, _ := startBackend(t, func(c netConn) {
		if _, _, err := readClient(c); err != nil {
			return
		}
		chunk := make([]byte, 64<<10)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if wsutil.WriteServerText(c, chunk) != nil {
				return
			}
		}
	})
	defer close(stop)
	b := plainBackend(url)
	b.Options = translators.Options{Chunked: true, EndMarker: "[DONE]"}
	rt := plainRoute("slow", "/slow", b)
	rt.ClientOptions = translators.Options{Reply: translators.ReplyStream}
	rt.Limits.WriteTimeout = 200 * time.Millisecond
	rt.Limits.MaxTurnText = 1 << 30
	srv, addr := startProxy(t, Config{Routes: []*Route{rt}})
	c := dial(t, wsURL(addr, "/slow"))
	c.send("go")
	time.Sleep(100 * time.Millisecond)
	waitFor(t, func() bool { return srv.Sessions() == 0 })
}

func TestIdleTimeoutIgnoresPings(t *testing.T) {
	url, _ := startBackend(t, echoBackend)
	idle := func(name string, b *Backend) *Route {
		rt := plainRoute(name, "/"+name, b)
		rt.Session.Timeout = 300 * time.Millisecond
		return rt
	}
	_, addr := startProxy(t, Config{Routes: []*Route{idle("relay", plainBackend(url)), idle("translate", demoBackend(demo.Agent{}))}})
	for _, path := range []string{"/relay", "/translate"} {
		c := dial(t, wsURL(addr, path))
		var mu sync.Mutex
		done := make(chan struct{})
		go func() {
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					mu.Lock()
					_ = ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewPingFrame(nil)))
					mu.Unlock()
				}
			}
		}()
		start := time.Now()
		code, msgs := c.expectClose()
		close(done)
		if code != ws.StatusPolicyViolation || !strings.Contains(last(msgs), "session_timeout") || time.Since(start) > 2*time.Second {
			t.Errorf("%s: close %d after %q in %v, want session_timeout then 1008 at about 300ms", path, code, msgs, time.Since(start))
		}
	}
}

func TestCompressionNotNegotiated(t *testing.T) {
	_, addr := startProxy(t, Config{Routes: []*Route{plainRoute("demo", "/demo", demoBackend(demo.Agent{}))}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET /demo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		t.Errorf("status %d, extensions %q: compression must not be negotiated", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Extensions"))
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("accept %q, want the RFC 6455 sample answer", got)
	}
}

func TestBackendHandshakeRefusals(t *testing.T) {
	for _, status := range []int{401, 500} {
		backend := serveTCP(t, func(c net.Conn) {
			_, _ = http.ReadRequest(bufio.NewReader(c))
			fmt.Fprintf(c, "HTTP/1.1 %d Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", status)
		})
		_, addr := startProxy(t, Config{Routes: []*Route{plainRoute("p", "/p", plainBackend("ws://"+backend+"/"))}})
		if got, body := dialRefused(t, wsURL(addr, "/p"), nil); got != 502 || !strings.Contains(body, "backend_unavailable") {
			t.Errorf("backend answering %d: client got %d %q, want 502", status, got, body)
		}
	}
}

func TestClientVanishingClosesBackend(t *testing.T) {
	ended := make(chan time.Time, 4)
	url, _ := startBackend(t, func(c netConn) {
		echoBackend(c)
		ended <- time.Now()
	})
	stream := plainRoute("t", "/t", plainBackend(url))
	stream.ClientOptions.Reply = translators.ReplyStream
	stream.Backend.Options.Chunked = true
	_, addr := startProxy(t, Config{Routes: []*Route{plainRoute("r", "/r", plainBackend(url)), stream}})
	for _, path := range []string{"/r", "/t"} {
		c := dial(t, wsURL(addr, path))
		c.send("x")
		c.recv()
		start := time.Now()
		c.nc.Close() // no close frame: the client just goes
		select {
		case at := <-ended:
			if d := at.Sub(start); d > time.Second {
				t.Errorf("%s: backend leg closed %v after the client vanished", path, d)
			}
		case <-time.After(3 * time.Second):
			t.Errorf("%s: backend leg still open 3s after the client vanished", path)
		}
	}
}

func TestBackendNotReading(t *testing.T) {
	// A backend that never reads: the proxy's write to it stalls, the write
	// deadline ends the session, and the client hears 1014.
	release := make(chan struct{})
	url, _ := startBackend(t, func(c netConn) { <-release })
	t.Cleanup(func() { close(release) }) // runs before the backend's own cleanup
	rt := plainRoute("p", "/p", plainBackend(url))
	// A translating route (the shapes differ), so the proxy reads the whole
	// message before it writes to the backend: the client has finished
	// sending when the proxy gives up.
	rt.ClientOptions.Reply = translators.ReplyStream
	rt.Backend.Options = translators.Options{Chunked: true, EndMarker: "[DONE]"}
	rt.Limits.WriteTimeout = 200 * time.Millisecond
	rt.Limits.MaxMessage = 64 << 20
	_, addr := startProxy(t, Config{Routes: []*Route{rt}, PingInterval: time.Hour})
	c := dial(t, wsURL(addr, "/p"))
	// One message far larger than the socket buffers between the proxy and
	// the backend; the client is done writing before the proxy gives up.
	c.send(strings.Repeat("z", 24<<20))
	if code, _ := c.expectClose(); code != 1014 {
		t.Errorf("close %d, want 1014", code)
	}
}
