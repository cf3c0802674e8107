package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/agentbridge/agentbridge/demo"
	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/plain"
)

// The test harness: a proxy on a loopback port, real WebSocket backends
// written with gobwas/ws's server side, and clients written with its client
// side. Nothing here is a stand-in: every byte crosses a 127.0.0.1 socket.

// startProxy runs a Server for routes on 127.0.0.1 and returns its address.
// The server is shut down when the test ends.
func startProxy(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return srv, ln.Addr().String()
}

// stopProxy shuts srv down and waits for every session to end.
func stopProxy(t testing.TB, srv *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Logf("shutdown: %v", err)
	}
}

// serveTCP accepts TCP connections on 127.0.0.1 and runs fn for each on a
// goroutine of its own, closing the connection after; it returns the
// address. The listener closes when the test ends.
func serveTCP(t testing.TB, fn func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fn(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// backendFunc serves one backend connection; conn is already upgraded.
type backendFunc func(c net.Conn)

// startBackend runs a WebSocket server on 127.0.0.1 calling fn for each
// connection, and returns its ws:// URL. It counts connections in conns.
func startBackend(t testing.TB, fn backendFunc) (url string, conns *counter) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = &counter{}
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if _, err := ws.Upgrade(c); err != nil {
					return
				}
				conns.add(1)
				fn(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return "ws://" + ln.Addr().String() + "/", conns
}

type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) add(d int) { c.mu.Lock(); c.n += d; c.mu.Unlock() }
func (c *counter) get() int  { c.mu.Lock(); defer c.mu.Unlock(); return c.n }

// echoBackend answers each text message with one message "echo: <text>".
func echoBackend(c net.Conn) {
	for {
		msg, op, err := wsutil.ReadClientData(c)
		if err != nil {
			return
		}
		if op == ws.OpText {
			msg = append([]byte("echo: "), msg...)
		}
		if err := wsutil.WriteServerMessage(c, op, msg); err != nil {
			return
		}
	}
}

// chunkBackend answers each message with its words as separate messages,
// then marker (when not empty).
func chunkBackend(marker string) backendFunc {
	return func(c net.Conn) {
		for {
			msg, _, err := wsutil.ReadClientData(c)
			if err != nil {
				return
			}
			for _, w := range strings.SplitAfter(string(msg), " ") {
				if err := wsutil.WriteServerText(c, []byte(w)); err != nil {
					return
				}
			}
			if marker != "" {
				if err := wsutil.WriteServerText(c, []byte(marker)); err != nil {
					return
				}
			}
		}
	}
}

func plainRoute(name, path string, b *Backend) *Route {
	return &Route{Name: name, Path: path, Client: plain.Dialect, Backend: b}
}

func plainBackend(url string) *Backend {
	return &Backend{Name: "plain", Dialect: plain.Dialect, URL: url}
}

func demoBackend(a demo.Agent) *Backend {
	return &Backend{
		Name:    "demo",
		Dialect: translators.Dialect{Name: "demo"},
		Open: func(context.Context, []Param) (Upstream, error) {
			return a.NewSession(), nil
		},
	}
}

// client is a test WebSocket client built on gobwas/ws's client side.
type client struct {
	t  testing.TB
	nc net.Conn
}

func dial(t testing.TB, url string) *client {
	t.Helper()
	return dialWith(t, url, nil)
}

// dialWith dials url with extra handshake headers; the connection is closed
// when the test ends.
func dialWith(t testing.TB, url string, hdr ws.HandshakeHeader) *client {
	t.Helper()
	c := dialOwned(t, url, hdr)
	t.Cleanup(func() { c.nc.Close() })
	return c
}

// dialOwned dials url; the caller closes the connection (a churn test
// holds no reference to closed clients).
func dialOwned(t testing.TB, url string, hdr ws.HandshakeHeader) *client {
	t.Helper()
	nc, br, _, err := ws.Dialer{Header: hdr}.Dial(context.Background(), url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	if br != nil {
		// The server spoke first (a greeting): keep what was buffered.
		nc = &bufferedConn{Conn: nc, r: io.MultiReader(br, nc)}
	}
	return &client{t: t, nc: nc}
}

type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// dialRefused dials url and returns the HTTP status of a refused handshake
// (0 when the upgrade succeeded).
func dialRefused(t testing.TB, url string, hdr ws.HandshakeHeader) (int, string) {
	t.Helper()
	var body bytes.Buffer
	d := ws.Dialer{Header: hdr, Timeout: 5 * time.Second}
	d.OnStatusError = func(status int, _ []byte, r io.Reader) {
		_, _ = io.Copy(&body, io.LimitReader(r, 4096))
	}
	nc, _, _, err := d.Dial(context.Background(), url)
	if err == nil {
		nc.Close()
		return 0, ""
	}
	var se ws.StatusError
	if errors.As(err, &se) {
		return int(se), body.String()
	}
	t.Fatalf("dial %s: %v", url, err)
	return 0, ""
}

func (c *client) send(msg string) {
	c.t.Helper()
	if err := wsutil.WriteClientText(c.nc, []byte(msg)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// recv reads the next data message (answering pings), failing after 5s.
func (c *client) recv() string {
	c.t.Helper()
	msg, err := c.read()
	if err != nil {
		c.t.Fatalf("recv: %v", err)
	}
	return msg
}

// read returns the next data message, answering pings. A close frame ends
// it with a *closeFrame error. It reads frames itself (gobwas's wsutil
// refuses close codes it does not know, such as 1014).
// awaitDrop reads and discards whatever comes, answering nothing, until the
// proxy closes the connection or limit passes, and returns how long that
// took: how a client that stopped answering pings sees its end.
func (c *client) awaitDrop(limit time.Duration) time.Duration {
	start := time.Now()
	_ = c.nc.SetReadDeadline(start.Add(limit))
	buf := make([]byte, 512)
	for {
		if _, err := c.nc.Read(buf); err != nil {
			return time.Since(start)
		}
	}
}

// awaitNoSessions waits up to limit for srv to have no session left, and
// fails the test, naming what, if one stays.
func awaitNoSessions(t testing.TB, srv *Server, limit time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for srv.Sessions() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s still live: %d sessions", what, srv.Sessions())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (c *client) read() (string, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var msg []byte
	for {
		f, err := ws.ReadFrame(c.nc)
		if err != nil {
			return "", err
		}
		switch f.Header.OpCode {
		case ws.OpPing:
			_ = ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewPongFrame(f.Payload)))
			continue
		case ws.OpPong:
			continue
		case ws.OpClose:
			code, reason := ws.StatusNoStatusRcvd, ""
			if len(f.Payload) >= 2 {
				code = ws.StatusCode(uint16(f.Payload[0])<<8 | uint16(f.Payload[1]))
				reason = string(f.Payload[2:])
			}
			_ = ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewCloseFrame(f.Payload)))
			return "", &closeFrame{code, reason}
		}
		msg = append(msg, f.Payload...)
		if f.Header.Fin {
			return string(msg), nil
		}
	}
}

type closeFrame struct {
	code   ws.StatusCode
	reason string
}

func (e *closeFrame) Error() string { return fmt.Sprintf("closed %d %q", e.code, e.reason) }

// expectClose reads until the server's close frame and returns its code,
// failing on a data message or when no close comes.
func (c *client) expectClose() (ws.StatusCode, []string) {
	c.t.Helper()
	var got []string
	for {
		msg, err := c.read()
		if err == nil {
			got = append(got, msg)
			continue
		}
		var ce *closeFrame
		if errors.As(err, &ce) {
			return ce.code, got
		}
		c.t.Fatalf("waiting for close: %v (messages %q)", err, got)
	}
}

// writeFrame writes one raw frame, masked as a client must unless the test
// breaks the rule on purpose.
func (c *client) writeFrame(f ws.Frame) {
	c.t.Helper()
	if err := ws.WriteFrame(c.nc, f); err != nil {
		c.t.Fatalf("write frame: %v", err)
	}
}

// checkNoLeaks fails when goroutines or file descriptors do not return to
// their level before the test within a few seconds.
func checkNoLeaks(t testing.TB) func() {
	t.Helper()
	wsconn.Parks() // started once per process, on first use: not a leak
	g0, fd0 := countGoroutines(), countFDs()
	return func() {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			g, fd := countGoroutines(), countFDs()
			if g <= g0 && fd <= fd0 {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				n := runtime.Stack(buf, true)
				t.Fatalf("leak: goroutines %d -> %d, fds %d -> %d\n%s", g0, g, fd0, fd, buf[:n])
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// countGoroutines counts goroutines, leaving out fasthttp's worker pool
// (idle workers and their cleaner), which keeps goroutines for reuse.
func countGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if len(g) > 0 && !bytes.Contains(g, []byte("fasthttp.(*workerPool)")) {
			n++
		}
	}
	return n
}

func countFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(ents)
}

func wsURL(addr, path string) string { return fmt.Sprintf("ws://%s%s", addr, path) }

// closeNormally sends a close frame with 1000 and waits for the answer.
func (c *client) closeNormally() {
	c.t.Helper()
	c.writeFrame(ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
	if code, _ := c.expectClose(); code != ws.StatusNormalClosure {
		c.t.Errorf("close answered with %d, want 1000", code)
	}
	c.nc.Close()
}
