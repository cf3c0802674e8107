package proxy

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/agentbridge/agentbridge/translators"
)

// TestWiroSlowClientFailsAlone: all sessions of a Wiro backend share its
// socket. One client stops reading while its reply floods in; ten others
// stream beside it. The ten finish on time (each of their reads is
// bounded by 5s), and the slow one alone fails
// with the dialect's error and 1008, once it reads again. Its writes may
// block for the whole (long) write timeout: the shared reader must not
// wait for them.
func TestWiroSlowClientFailsAlone(t *testing.T) {
	wb := &wiroBackend{key: "k"}
	api, sock := wb.serve(t)
	rt := plainRoute("p", "/p", wiroBackendCfg(api, sock, "k"))
	rt.ClientOptions = translators.Options{Reply: translators.ReplyStream, EndMarker: "[END]"}
	rt.Limits.WriteTimeout = time.Minute
	_, addr := startProxy(t, Config{Routes: []*Route{rt}})

	slow := dial(t, wsURL(addr, "/p"))
	slow.send("flood 400")
	// Wait until the flood is well past what the slow session may hold (the
	// socket buffers, then maxInbox; each output is 64 KiB), or the backend
	// is stuck writing it.
	for deadline := time.Now().Add(3 * time.Second); wb.flooded.Load() < 200 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}

	const words = "one two three four five six seven eight nine ten"
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, _, _, err := ws.Dialer{Timeout: 5 * time.Second}.Dial(context.Background(), wsURL(addr, "/p"))
			if err != nil {
				errs <- err
				return
			}
			defer nc.Close()
			c := &client{t: t, nc: nc}
			msg := fmt.Sprintf("client %d %s", i, words)
			if err := wsutil.WriteClientText(nc, []byte(msg)); err != nil {
				errs <- err
				return
			}
			var got strings.Builder
			for {
				m, err := c.read()
				if err != nil {
					errs <- fmt.Errorf("client %d after %q: %v", i, got.String(), err)
					return
				}
				if m == "[END]" {
					break
				}
				got.WriteString(m)
			}
			if want := "Echo #1: " + msg; got.String() != want {
				errs <- fmt.Errorf("client %d got %q, want %q", i, got.String(), want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	if t.Failed() {
		return
	}
	// The slow client reads again: what was on its way, then the error and
	// the close.
	code, msgs := slow.expectClose()
	if code != ws.StatusPolicyViolation {
		t.Errorf("slow client closed with %d, want 1008", code)
	}
	if n := len(msgs); n == 0 || !strings.Contains(msgs[n-1], `"too_slow"`) {
		last := ""
		if n > 0 {
			last = msgs[n-1][:min(len(msgs[n-1]), 200)]
		}
		t.Errorf("slow client's last message %q, want the too_slow error", last)
	}
}
