package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
	"github.com/agentbridge/agentbridge/translators"
)

// A relay's pumps run on the poller's goroutine when their sockets become
// readable (park_linux.go), and must leave it before anything that could
// block. These tests stall one relay in each way it could block and check
// that another relay still answers at once, and that the stalled one picks
// up where it stopped.

// stallBackend echoes, except that after a "stall" message it reads
// nothing more until released.
func stallBackend(release <-chan struct{}) backendFunc {
	return func(c netConn) {
		for {
			msg, _, err := readClient(c)
			if err != nil {
				return
			}
			if string(msg) == "stall" {
				<-release
				return
			}
			writeText(c, "echo: "+string(msg))
		}
	}
}

// checkAnswers sends a message through a fresh relay and wants the echo
// well within the proxy's write timeout, which a blocked poller would wait
// out.
func checkAnswers(t *testing.T, addr, msg string) {
	t.Helper()
	checkAnswersAt(t, addr, "/relay", msg)
}

// checkAnswersAt is checkAnswers through the route at path.
func checkAnswersAt(t *testing.T, addr, path, msg string) {
	t.Helper()
	c := dial(t, wsURL(addr, path))
	c.send(msg)
	_ = c.nc.SetReadDeadline(time.Now().Add(time.Second))
	got, err := c.read()
	if err != nil || got != "echo: "+msg {
		t.Fatalf("another session (%s) got %q, %v: want the echo at once", path, got, err)
	}
}

func TestRelayBackendNotReadingHoldsNoOther(t *testing.T) {
	release := make(chan struct{})
	url, _ := startBackend(t, stallBackend(release))
	rt := plainRoute("relay", "/relay", plainBackend(url))
	// A poller blocked on the write would stay so well past checkAnswers.
	rt.Limits = Limits{WriteTimeout: 20 * time.Second, MessageRate: -1}
	_, addr := startProxy(t, Config{Routes: []*Route{rt}})
	// Cleanups run last first: the backend lets go before the proxy stops,
	// so the relay's waiting write fails at once.
	t.Cleanup(func() { close(release) })
	checkAnswers(t, addr, "before")

	// The stalled relay's backend reads nothing: the client's frames fill
	// the backend's socket, then the proxy's, until the relay's write is
	// left waiting (and the client's own write with it). They go in bursts
	// of 128 KiB, each within one run of the pump on the poller, with
	// pauses in which it parks, so the sockets fill during such a run.
	stalled := dial(t, wsURL(addr, "/relay"))
	stalled.send("stall")
	frame := maskedText(strings.Repeat("x", 8<<10))
	burst := bytes.Repeat(frame, 16)
	for sent := 0; ; sent++ {
		time.Sleep(20 * time.Millisecond)
		_ = stalled.nc.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := stalled.nc.Write(burst); err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("stalled client: %v after %d bursts", err, sent)
			}
			break
		}
		if sent > 1000 {
			t.Fatal("128 MiB went through a backend that reads nothing")
		}
	}
	checkAnswers(t, addr, "after")
}

func TestRelayClientStopsMidFrameHoldsNoOther(t *testing.T) {
	url, _ := startBackend(t, echoBackend)
	_, addr := startProxy(t, Config{
		Routes: []*Route{plainRoute("relay", "/relay", plainBackend(url))},
	})
	checkAnswers(t, addr, "before")

	// Half a frame, then nothing: the relay waits for the rest without
	// holding the poller, and forwards the message once it comes.
	half := dial(t, wsURL(addr, "/relay"))
	msg := strings.Repeat("y", 3000)
	frame := maskedText(msg)
	for _, part := range [][]byte{frame[:1], frame[1:1500]} {
		if _, err := half.nc.Write(part); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		checkAnswers(t, addr, "meanwhile")
	}
	if _, err := half.nc.Write(frame[1500:]); err != nil {
		t.Fatal(err)
	}
	_ = half.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if got, err := half.read(); err != nil || got != "echo: "+msg {
		t.Fatalf("the completed frame came back as %.40q..., %v", got, err)
	}
}

// maskedText is one client text frame carrying s.
func maskedText(s string) []byte {
	p := []byte(s)
	h := ws.Header{Fin: true, OpCode: ws.OpText, Length: int64(len(p)), Masked: true, Mask: ws.NewMask()}
	ws.Cipher(p, h.Mask, 0)
	var b bytes.Buffer
	_ = ws.WriteHeader(&b, h)
	b.Write(p)
	return b.Bytes()
}

// A translating session's backend pump runs on the poller's goroutine too
// (session_inline.go): a client that stops reading a flood of replies, and
// a backend that stops mid-frame, must not hold it.
func TestSessionStallsHoldNoOther(t *testing.T) {
	release, stalled := make(chan struct{}), make(chan struct{})
	var stallOnce sync.Once
	url, _ := startBackend(t, func(c netConn) {
		for {
			msg, _, err := readClient(c)
			if err != nil {
				return
			}
			switch string(msg) {
			case "flood":
				// Bursts of 128 KiB, each short enough for one run of the
				// session's backend pump on the poller, with pauses in
				// which it parks: the client's socket fills during a run.
				big := strings.Repeat("z", 8<<10)
				for {
					select {
					case <-release:
						return
					case <-time.After(20 * time.Millisecond):
					}
					_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
					for range 16 {
						start := time.Now()
						err := wsutil.WriteServerText(c, []byte(big))
						if time.Since(start) > 200*time.Millisecond {
							stallOnce.Do(func() { close(stalled) }) // the proxy stopped reading
						}
						if err != nil {
							return
						}
					}
				}
			case "half":
				frame := ws.NewTextFrame([]byte("echo: " + strings.Repeat("h", 3000)))
				var b bytes.Buffer
				_ = ws.WriteFrame(&b, frame)
				_, _ = c.Write(b.Bytes()[:1000])
				time.Sleep(1500 * time.Millisecond) // longer than checkAnswers waits
				_, _ = c.Write(b.Bytes()[1000:])
			default:
				writeText(c, "echo: "+string(msg))
			}
		}
	})
	t.Cleanup(func() { close(release) })
	b := plainBackend(url)
	rt := &Route{Name: "tr", Path: "/tr", Client: b.Dialect, Backend: b,
		ClientOptions: translators.Options{Reply: translators.ReplyStream},
		Limits:        Limits{WriteTimeout: 20 * time.Second, MaxTurnText: 1 << 30}} // a poller blocked on a write would stay so
	_, addr := startProxy(t, Config{Routes: []*Route{rt}})
	checkAnswersAt(t, addr, "/tr", "before")

	half := dial(t, wsURL(addr, "/tr"))
	half.send("half")
	time.Sleep(100 * time.Millisecond) // the backend is mid-frame
	checkAnswersAt(t, addr, "/tr", "meanwhile")
	_ = half.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	if got, err := half.read(); err != nil || got != "echo: "+strings.Repeat("h", 3000) {
		t.Fatalf("the completed frame came back as %.40q..., %v", got, err)
	}

	// A client with a small receive buffer that reads nothing: the
	// proxy's first write of the flood is already partial.
	flood := dialSmallWindow(t, wsURL(addr, "/tr"))
	flood.send("flood")
	select {
	case <-stalled:
	case <-time.After(10 * time.Second):
		t.Fatal("the flood never filled the client's socket")
	}
	checkAnswersAt(t, addr, "/tr", "after")
}

// dialSmallWindow dials url with a 4 KiB receive buffer.
func dialSmallWindow(t *testing.T, url string) *client {
	t.Helper()
	d := ws.Dialer{NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			}); err != nil {
				return err
			}
			return serr
		}}
		return nd.DialContext(ctx, network, addr)
	}}
	nc, _, _, err := d.Dial(context.Background(), url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc}
}

// TestSessionBackendServedFromPoller checks that a translating session's
// backend pump runs on the poller's goroutine (session_inline.go): while a
// reply streams in chunks 30 ms apart, no goroutine of the session's own
// waits for the next chunk (a pump reading on a goroutine holds it for
// parkAfter after each chunk), and every chunk arrives, in order.
func TestSessionBackendServedFromPoller(t *testing.T) {
	if !wsconn.Parks() {
		t.Skip("no epoll here: connections do not park")
	}
	const chunks = 20
	url, _ := startBackend(t, func(c netConn) {
		for {
			msg, _, err := readClient(c)
			if err != nil {
				return
			}
			for i := range chunks {
				time.Sleep(30 * time.Millisecond)
				writeText(c, fmt.Sprintf("%s %d", msg, i))
			}
			writeText(c, "[END]")
		}
	})
	b := plainBackend(url)
	b.Options = translators.Options{Chunked: true, EndMarker: "[END]"}
	rt := &Route{Name: "tr", Path: "/tr", Client: b.Dialect, Backend: b,
		ClientOptions: translators.Options{Reply: translators.ReplyStream}}
	_, addr := startProxy(t, Config{Routes: []*Route{rt}})
	c := dial(t, wsURL(addr, "/tr"))
	c.send("chunk")

	done, result := make(chan struct{}), make(chan [2]int)
	go func() {
		samples, held := 0, 0
		for {
			select {
			case <-done:
				result <- [2]int{samples, held}
				return
			case <-time.After(5 * time.Millisecond):
			}
			if goroutinesIn("proxy.(*session).backendPump") > 0 {
				held++
			}
			samples++
		}
	}()
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range chunks {
		got, err := c.read()
		if want := fmt.Sprintf("chunk %d", i); err != nil || got != want {
			close(done)
			t.Fatalf("chunk %d: got %q, %v; want %q", i, got, err, want)
		}
	}
	close(done)
	r := <-result
	if r[0] < 20 || r[1]*10 > r[0] {
		t.Fatalf("a goroutine ran the backend pump in %d of %d samples: want it on the poller's (at most a tenth)", r[1], r[0])
	}
}

// goroutinesIn counts the goroutines whose stack holds fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte(fn)) {
			n++
		}
	}
	return n
}

// TestSlowOnceThenQuiet checks that a client which once made the proxy
// wait to write (a full socket) still gets its replies when the next one
// comes after the write timeout: the deadline of that blocking write, long
// passed, must not fail the later writes that do not block, on a relay and
// on a translating session.
func TestSlowOnceThenQuiet(t *testing.T) {
	url, _ := startBackend(t, echoBackend)
	limits := Limits{WriteTimeout: time.Second, MaxMessage: 32 << 20, MaxTurnText: 1 << 30}
	b := plainBackend(url)
	relay := plainRoute("relay", "/relay", b)
	relay.Limits = limits
	tr := &Route{Name: "tr", Path: "/tr", Client: b.Dialect, Backend: b, Limits: limits,
		ClientOptions: translators.Options{Reply: translators.ReplyStream}}
	_, addr := startProxy(t, Config{Routes: []*Route{relay, tr}})
	for _, path := range []string{"/relay", "/tr"} {
		c := dialSmallWindow(t, wsURL(addr, path))
		big := strings.Repeat("b", 12<<20) // more than the kernel lets a socket buffer (tcp_wmem's 4 MiB)
		c.send(big)
		time.Sleep(100 * time.Millisecond) // the proxy's write to the client waits
		_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if got, err := c.read(); err != nil || got != "echo: "+big {
			t.Fatalf("%s: the big echo came back as %d bytes, %v", path, len(got), err)
		}
		time.Sleep(1200 * time.Millisecond) // past that write's deadline
		c.send("later")
		if got, err := c.read(); err != nil || got != "echo: later" {
			t.Fatalf("%s: a reply after the write timeout came as %q, %v", path, got, err)
		}
	}
}
