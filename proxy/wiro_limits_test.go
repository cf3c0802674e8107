package proxy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/translators"
)

// TestWiroConversationLimits: every send with a new session key opens a
// backend conversation, counted against the route's MaxConversations
// (429 when full) and the server's (503), with a readable result:false
// body. A key that has its conversation still sends, and a conversation
// that ends gives its place back.
func TestWiroConversationLimits(t *testing.T) {
	url, conns := startBackend(t, countingBackend)
	small := wiroRoute("small", "/small", plainBackend(url), nil)
	small.Limits.MaxConversations = 2
	small.Session.Timeout = 300 * time.Millisecond
	other := wiroRoute("other", "/other", plainBackend(url), nil)
	srv, addr := startProxy(t, Config{Routes: []*Route{small, other}, MaxConversations: 3})

	send := func(prefix, key string, wantStatus int, wantErr string) {
		t.Helper()
		status, r := wiroSend(t, addr, prefix, "", sendBody("hi", key))
		if status != wantStatus {
			t.Errorf("send %s key %q: HTTP %d %+v, want %d", prefix, key, status, r, wantStatus)
			return
		}
		if wantErr == "" {
			if !r.Result || r.AgentToken == "" {
				t.Errorf("send %s key %q: %+v, want a token", prefix, key, r)
			}
			return
		}
		if r.Result || len(r.Errors) != 1 || !strings.Contains(r.Errors[0], wantErr) {
			t.Errorf("send %s key %q: %+v, want result false with %q", prefix, key, r, wantErr)
		}
	}
	send("/small", "a", 200, "")
	send("/small", "b", 200, "")
	send("/small", "c", 429, "too many conversations are open on this route")
	send("/small", "", 429, "too many conversations are open on this route") // no key: a conversation of its own
	send("/small", "a", 200, "")                                             // a has its conversation
	send("/other", "x", 200, "")
	send("/other", "y", 503, "too many conversations are open on this server")
	if n := conns.get(); n != 3 {
		t.Errorf("backend connections = %d, want 3: a refused send must open none", n)
	}

	// small's conversations end after 300ms without a message: their
	// places come back.
	for deadline := time.Now().Add(5 * time.Second); srv.table.Load().hubs[small].open.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	send("/small", "c", 200, "")
	send("/other", "y", 200, "")
}

// TestWiroSharedSocketTakesBackendLimits: two routes share a Wiro
// backend's socket. The route that opens it first allows only small client
// messages; the other's replies are larger than that, and must still
// come: the socket's limits are the backend's, not the first route's.
func TestWiroSharedSocketTakesBackendLimits(t *testing.T) {
	wb := &wiroBackend{key: "k"}
	api, sock := wb.serve(t)
	b := wiroBackendCfg(api, sock, "k")
	small := plainRoute("small", "/small", b)
	small.Limits.MaxMessage = 64
	big := plainRoute("big", "/big", b)
	big.ClientOptions = translators.Options{Reply: translators.ReplyWhole}
	_, addr := startProxy(t, Config{Routes: []*Route{small, big}})

	first := dial(t, wsURL(addr, "/small")) // opens the shared socket
	defer first.closeNormally()
	c := dial(t, wsURL(addr, "/big"))
	msg := strings.Repeat("word ", 40)
	c.send(msg)
	got, err := c.read()
	var cf *closeFrame
	if err != nil && errors.As(err, &cf) {
		t.Fatalf("closed %d %q instead of the reply: the shared socket read with the first route's max_message", cf.code, cf.reason)
	}
	if err != nil {
		t.Fatal(err)
	}
	if want := "Echo #1: " + msg; got != want {
		t.Errorf("reply %q, want %q", got, want)
	}
}
