package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/config"
	"github.com/agentbridge/agentbridge/proxy"
	"github.com/agentbridge/agentbridge/translators"
)

// startFromYAML builds the proxy a configuration describes, the way serve
// does, runs it on 127.0.0.1 and returns its address.
func startFromYAML(t *testing.T, yml string, logger *slog.Logger) string {
	t.Helper()
	return startWithTable(t, yml, dialects, logger)
}

// startWithTable is startFromYAML with another dialect table.
func startWithTable(t *testing.T, yml string, table []translators.Dialect, logger *slog.Logger) string {
	t.Helper()
	f, err := config.Parse("t.yaml", []byte(yml), table)
	if err != nil {
		t.Fatal(err)
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	pc, err := build(f, table, logger)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := proxy.New(pc)
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
	return ln.Addr().String()
}

// uriListener accepts TCP connections on 127.0.0.1, records the request
// target of each one's first line and closes it (a backend that refuses
// every handshake).
func uriListener(t *testing.T) (addr string, uris chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	uris = make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			if f := strings.Fields(line); len(f) == 3 {
				uris <- f[1]
			}
			c.Close()
		}
	}()
	return ln.Addr().String(), uris
}

// handshake sends a WebSocket upgrade for target over raw TCP (so nothing
// re-escapes it) with extra header lines, and returns the status.
func handshake(t *testing.T, addr, target, extra string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n", target, extra)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestConnicQuerySecretFillsParams: a Connic backend with secret_in: query
// gets its "{agent}" filled and escaped like any other backend, beside its
// secret and its own query (the URL was parsed and printed to add the
// secret, which turned the placeholder into "%7Bagent%7D").
func TestConnicQuerySecretFillsParams(t *testing.T) {
	backend, uris := uriListener(t)
	addr := startFromYAML(t, `version: 1
backends:
  c: {dialect: connic, url: "ws://`+backend+`/ws/{agent}?v=2", secret: "s3cr&t", secret_in: query}
routes:
  - {path: /c/:agent, dialect: plain, auth: none, backend: c}
`, nil)
	for _, tt := range []struct{ target, agent string }{
		{"/c/bob", "bob"},
		{"/c/b%C3%B6b%20x", "böb x"},
	} {
		if st := handshake(t, addr, tt.target, ""); st != http.StatusBadGateway {
			t.Errorf("%s: status %d, want 502 from the refusing backend", tt.target, st)
		}
		var uri string
		select {
		case uri = <-uris:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: backend not dialed", tt.target)
		}
		u, err := url.ParseRequestURI(uri)
		if err != nil {
			t.Fatalf("backend got %q: %v", uri, err)
		}
		q := u.Query()
		if u.Path != "/ws/"+tt.agent || q.Get("v") != "2" || q.Get("X-Connic-Secret") != "s3cr&t" || len(q) != 2 {
			t.Errorf("%s: backend got %q; want path /ws/%s, v=2 and the secret", tt.target, uri, tt.agent)
		}
	}
}

func TestSetQuery(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ws://h/ws/{agent}", "ws://h/ws/{agent}?k=a+b%26"},
		{"ws://h/ws?x=1&k=old&y={agent}", "ws://h/ws?x=1&y={agent}&k=a+b%26"},
		{"ws://h/ws?", "ws://h/ws?k=a+b%26"},
		{"ws://h/ws#f", "ws://h/ws?k=a+b%26#f"},
	}
	for _, tt := range tests {
		if got := setQuery(tt.in, "k", "a b&"); got != tt.want {
			t.Errorf("setQuery(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestValidateRedactsURLs: validate quoted a refused URL whole, with the
// password in its userinfo and the token in its query.
func TestValidateRedactsURLs(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	yml := `version: 1
auth:
  sso: {type: jwt, algorithms: [RS256], jwks_url: "ftp://u:CANARY-PW@h/jwks?key=CANARY-Q#CANARY-F"}
backends:
  c: {dialect: connic, url: "http://CANARY-USER@127.0.0.1:9/ws?token=CANARY-TOKEN&CANARY-BARE", secret: CANARY-CONNIC, secret_in: query}
  w: {dialect: wiro, api_url: "http://h/%zz?k=CANARY-K", socket_url: "ws://h/v1", api_key: CANARY-API, useragent_guid: g}
routes:
  - {path: /c, dialect: plain, auth: [sso], backend: c}
`
	if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code := run(context.Background(), []string{"validate", "-config", p}, &out, &out)
	if code != 1 || !strings.Contains(out.String(), "backends.c.url: invalid URL") || !strings.Contains(out.String(), "auth.sso.jwks_url: invalid URL") {
		t.Fatalf("validate = %d, want 1 naming both URLs:\n%s", code, out.String())
	}
	if strings.Contains(out.String(), "CANARY") {
		t.Errorf("validate printed a credential:\n%s", out.String())
	}
}

// TestServeLogsNoCredentials: at debug level, a client that presents
// credentials in a malformed request and in a refused handshake, and a
// backend with a token in its URL that cannot be reached, leave no
// configured secret, client credential, ticket or URL token in the log.
func TestServeLogsNoCredentials(t *testing.T) {
	var logs syncWriter
	logger := newLogger(config.Log{Level: "debug"}, &logs)
	addr := startFromYAML(t, `version: 1
log: {level: debug}
auth:
  team: {type: secret, secrets: [CANARY-SECRET]}
backends:
  c: {dialect: connic, url: "ws://u:CANARY-PW@127.0.0.1:1/ws/{agent}?token=CANARY-URLTOKEN", secret: CANARY-CONNIC, secret_in: query}
routes:
  - {path: /c/:agent, dialect: connic, auth: [team], backend: c}
`, logger)
	creds := "Authorization: Bearer CANARY-SECRET\r\nX-Connic-Secret: CANARY-SECRET\r\n"
	handshake(t, addr, "/c/a?access_token=CANARY-SECRET&ticket=CANARY-TICKET", creds)
	handshake(t, addr, "/c/a?access_token=CANARY-WRONG", "X-Connic-Secret: CANARY-WRONG\r\n")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /c/a?access_token=CANARY-SECRET HTTP/1.1\r\n%sbroken header line\r\n\r\n", creds)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.Copy(io.Discard, c)
	c.Close()
	time.Sleep(50 * time.Millisecond) // fasthttp logs after it closed the connection
	out := logs.String()
	if !strings.Contains(out, "backend unavailable") || !strings.Contains(out, "http: ") {
		t.Fatalf("the log lacks the lines this test is about:\n%s", out)
	}
	if strings.Contains(out, "CANARY") {
		t.Errorf("a credential reached the log:\n%s", out)
	}
}

type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
