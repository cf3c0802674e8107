package proxy

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log destination shared by the proxy's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func debugLogger() (*slog.Logger, *syncBuffer) {
	var buf syncBuffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}

// sendRaw writes req on a new connection and reads until the server closes
// it.
func sendRaw(t *testing.T, addr, req string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write([]byte(req))
	_, _ = io.Copy(io.Discard, c)
}

// TestMalformedRequestsNotLogged: at debug level, fasthttp's error logger
// printed the raw request of a malformed one, credentials and all.
func TestMalformedRequestsNotLogged(t *testing.T) {
	logger, logs := debugLogger()
	_, addr := startProxy(t, Config{Logger: logger, MaxHeaderBytes: 4096, Routes: []*Route{
		connicRoute("c", "/c", connicBackendCfg("ws://127.0.0.1:1/ws", "CANARY-CONFIGURED"), secretAuth(t, "CANARY-SECRET")),
	}})
	creds := "Authorization: Bearer CANARY-AUTH\r\nX-Connic-Secret: CANARY-SECRET\r\n"
	for _, req := range []string{
		"GET /c?access_token=CANARY-QUERY&ticket=CANARY-TICKET HTTP/1.1\r\nHost: x\r\n" + creds + "no colon in this header line\r\n\r\n",
		"GET /c?access_token=CANARY-QUERY HTTP/1.1\r\nHost: x\r\n" + creds + "X-Pad: " + strings.Repeat("p", 8192) + "\r\n\r\n",
		"GET /c?access_token=CANARY-QUERY HTTP/1.1\r\nHost: x\r\n" + creds + "Content-Length: zz\r\n\r\n",
		"CANARY-TICKET\r\n" + creds + "\r\n",
	} {
		sendRaw(t, addr, req)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(logs.String(), "http: ") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	if !strings.Contains(out, "http: ") {
		t.Fatalf("fasthttp logged nothing, so this test proves nothing:\n%s", out)
	}
	if strings.Contains(out, "CANARY") {
		t.Errorf("a credential reached the log:\n%s", out)
	}
}

// TestBadBackendURLRedacted: a backend URL that fails to parse was printed
// whole, token and password, in the WARN line.
func TestBadBackendURLRedacted(t *testing.T) {
	logger, logs := debugLogger()
	b := plainBackend("ws://user:CANARY-PASSWORD@127.0.0.1:1/%zz?token=CANARY-TOKEN")
	_, addr := startProxy(t, Config{Logger: logger, Routes: []*Route{plainRoute("p", "/p", b)}})
	if st, _ := dialRefused(t, wsURL(addr, "/p"), nil); st != 502 {
		t.Fatalf("status %d, want 502", st)
	}
	out := logs.String()
	if !strings.Contains(out, "bad URL") || strings.Contains(out, "CANARY") {
		t.Errorf("want a bad URL warning without credentials:\n%s", out)
	}
}
