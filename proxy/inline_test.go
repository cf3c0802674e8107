package proxy

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
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
	c := dial(t, wsURL(addr, "/relay"))
	c.send(msg)
	_ = c.nc.SetReadDeadline(time.Now().Add(time.Second))
	got, err := c.read()
	if err != nil || got != "echo: "+msg {
		t.Fatalf("another relay got %q, %v: want the echo at once", got, err)
	}
}

func TestRelayBackendNotReadingHoldsNoOther(t *testing.T) {
	release := make(chan struct{})
	url, _ := startBackend(t, stallBackend(release))
	t.Cleanup(func() { close(release) }) // before startBackend's cleanup waits for its handlers
	rt := plainRoute("relay", "/relay", plainBackend(url))
	rt.Limits = Limits{WriteTimeout: 3 * time.Second, MessageRate: -1}
	_, addr := startProxy(t, Config{Routes: []*Route{rt}})
	checkAnswers(t, addr, "before")

	// The stalled relay's backend reads nothing: the client's frames fill
	// the backend's socket, then the proxy's, until the relay's write is
	// left waiting (and the client's own write with it).
	stalled := dial(t, wsURL(addr, "/relay"))
	stalled.send("stall")
	frame := strings.Repeat("x", 8<<10)
	for sent := 0; ; sent++ {
		_ = stalled.nc.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := stalled.nc.Write(maskedText(frame)); err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("stalled client: %v after %d frames", err, sent)
			}
			break
		}
		if sent > 10000 {
			t.Fatal("80 MiB went through a backend that reads nothing")
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
