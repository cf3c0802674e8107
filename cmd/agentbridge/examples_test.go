package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/agentbridge/agentbridge/config"
	"github.com/agentbridge/agentbridge/proxy"
)

// The examples' clients run on Debian's python3 with python3-websockets
// (e2e/clients/install.sh installs it), as the e2e suite's do.
const (
	python        = "/usr/bin/python3"
	clientTimeout = time.Minute
	jwtDevKey     = "agentbridge-example-dev-key-not-a-secret" // examples/connic-jwt/README.md
)

// examplesDir is examples/, absolute: the TLS example runs in another
// working directory.
var examplesDir, _ = filepath.Abs("../../examples")

// requirePython fails under CI and skips elsewhere when the examples'
// clients cannot run.
func requirePython(t *testing.T) {
	t.Helper()
	out, err := exec.Command(python, "-c", "import websockets").CombinedOutput()
	if err == nil {
		return
	}
	msg := python + " cannot import websockets (" + strings.TrimSpace(string(out)) + "): run e2e/clients/install.sh"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// startExample runs the proxy examples/<name>/config.yaml describes on a
// free port of 127.0.0.1 and returns its address. prepare, if not nil,
// runs once the port is bound and before the file is read (variables it
// sets apply).
func startExample(t *testing.T, name string, prepare func(addr string)) string {
	t.Helper()
	return startConfigFile(t, filepath.Join(examplesDir, name, "config.yaml"), prepare)
}

// startConfigFile runs the proxy the file at path describes, as
// startExample does. Every occurrence of the file's listen address (its
// own URLs too: connic-to-wiro's backend is the proxy itself) becomes the
// free one.
func startConfigFile(t *testing.T, path string, prepare func(addr string)) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if prepare != nil {
		prepare(addr)
	}
	f, err := config.Parse(path, data, dialects)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	f, err = config.Parse(path, []byte(strings.ReplaceAll(string(data), f.Listen, addr)), dialects)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	var logs syncWriter
	pc, err := build(f, dialects, newLogger(config.Log{Level: "info"}, &logs))
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	srv, err := proxy.New(pc)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
		if t.Failed() {
			t.Logf("the proxy's log:\n%s", logs.String())
		}
	})
	return addr
}

// runClient runs an example's Python script in its directory and returns
// what it printed; it fails the test when the script does not exit 0.
func runClient(t *testing.T, name string, args ...string) string {
	t.Helper()
	dir := filepath.Join(examplesDir, name)
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("examples/%s: python3 %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	t.Logf("examples/%s: python3 %s:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

// wantLines fails unless out holds every one of want.
func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("the client's output lacks %q:\n%s", w, out)
		}
	}
}

// TestExamples runs the client of every example in examples/ against the
// proxy its config.yaml describes, each on the built-in demo agent.
func TestExamples(t *testing.T) {
	requirePython(t)
	t.Run("connic-jwt", func(t *testing.T) {
		t.Setenv("JWT_SECRET", jwtDevKey)
		addr := startExample(t, "connic-jwt", nil)
		out := runClient(t, "connic-jwt", "client.py", "http://"+addr)
		wantLines(t, out, "full response: You said: Hello with a JWT", "another key: HTTP 401")
	})
	t.Run("connic-jwt on a Connic backend", func(t *testing.T) {
		// What the README says to do for a real Connic agent: backend: support.
		backend, headers := fakeConnic(t, "backend-only-secret")
		t.Setenv("JWT_SECRET", jwtDevKey)
		t.Setenv("CONNIC_URL", backend)
		t.Setenv("CONNIC_SECRET", "backend-only-secret")
		data, err := os.ReadFile(filepath.Join(examplesDir, "connic-jwt", "config.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		yml := strings.Replace(string(data), "backend: demo ", "backend: support ", 1)
		if yml == string(data) {
			t.Fatal("no `backend: demo` route in examples/connic-jwt/config.yaml")
		}
		path := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		addr := startConfigFile(t, path, nil)
		out := runClient(t, "connic-jwt", "client.py", "http://"+addr)
		wantLines(t, out, "full response: Echo: Hello with a JWT", "another key: HTTP 401")
		select {
		case h := <-headers:
			if h.Get("X-Connic-Secret") != "backend-only-secret" || h.Get("X-Agent-User") != "alice" || h.Get("Authorization") != "" {
				t.Errorf("the backend's handshake headers: %v; want its own secret, X-Agent-User alice, no client token", h)
			}
		default:
			t.Error("the backend was never dialed")
		}
	})
	t.Run("connic-to-wiro", func(t *testing.T) {
		addr := startExample(t, "connic-to-wiro", nil)
		out := runClient(t, "connic-to-wiro", "client.py", "http://"+addr)
		wantLines(t, out, "'agents': ['wiro']", "full response: You said: Hello from a Connic client")
	})
	t.Run("trusted-header", func(t *testing.T) {
		addr := startExample(t, "trusted-header", nil)
		out := runClient(t, "trusted-header", "client.py", "http://"+addr)
		wantLines(t, out, "You said: one two three", "without the header: HTTP 401")
	})
	t.Run("browser-tickets", func(t *testing.T) {
		var bff string
		addr := startExample(t, "browser-tickets", func(addr string) {
			bff = startBFF(t, "http://"+addr)
			t.Setenv("PAGE_ORIGIN", bff) // the page's origin, allowed by the route
		})
		resp, err := http.Get(bff + "/")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(page, []byte(`fetch("/ticket"`)) {
			t.Errorf("GET %s/: %d, %d bytes; want index.html", bff, resp.StatusCode, len(page))
		}
		out := runClient(t, "browser-tickets", "client.py", bff)
		wantLines(t, out, "ticket url: ws://"+addr+"/chat?ticket=...", "You said: hello from a browser", "same ticket again: HTTP 401")
	})
	t.Run("tls", func(t *testing.T) {
		dir := t.TempDir()
		writeSelfSigned(t, dir)
		t.Chdir(dir) // config.yaml names cert.pem and key.pem in the working directory
		addr := startExample(t, "tls", nil)
		out := runClient(t, "tls", "client.py", "https://"+addr, filepath.Join(dir, "cert.pem"))
		wantLines(t, out, `GET /healthz: 200 {"status":"ok"}`, "You said: hello over TLS")
	})
}

// startBFF runs examples/browser-tickets/bff.py on a free port, in front
// of the proxy at proxyURL, and returns its base URL.
func startBFF(t *testing.T, proxyURL string) string {
	t.Helper()
	dir := filepath.Join(examplesDir, "browser-tickets")
	cmd := exec.Command(python, "bff.py", "127.0.0.1:0", proxyURL)
	cmd.Dir = dir
	var stderr syncWriter
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("bff.py's log:\n%s", stderr.String())
		}
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case s := <-line:
		base, ok := strings.CutPrefix(strings.TrimSpace(s), "serving ")
		if !ok {
			t.Fatalf("bff.py printed %q, want serving http://...; stderr:\n%s", s, stderr.String())
		}
		return base
	case <-time.After(10 * time.Second):
		t.Fatalf("bff.py did not start; stderr:\n%s", stderr.String())
	}
	return ""
}

// writeSelfSigned writes cert.pem and key.pem into dir: a self-signed
// certificate for 127.0.0.1 and localhost, as the openssl command of
// examples/tls/README.md makes.
func writeSelfSigned(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // its own authority, as openssl req -x509 makes it
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]*pem.Block{
		"cert.pem": {Type: "CERTIFICATE", Bytes: der},
		"key.pem":  {Type: "PRIVATE KEY", Bytes: kder},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// reMetricName finds the series a PromQL expression reads.
var reMetricName = regexp.MustCompile(`\b(?:agentbridge|go|process)_[a-z0-9_]+`)

// TestGrafanaDashboard: examples/grafana/agentbridge-dashboard.json is
// JSON, every metric its queries read is one a proxy exports (scraped
// from /metrics after some traffic), and every agentbridge_ family the
// proxy exports has a panel.
func TestGrafanaDashboard(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(examplesDir, "grafana", "agentbridge-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string
		Panels []struct {
			ID      int
			Title   string
			Type    string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Name       string
				Definition string
			}
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("agentbridge-dashboard.json: %v", err)
	}
	var exprs []string
	ids := map[int]bool{}
	for _, p := range dash.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				t.Errorf("panel %q: a target without expr", p.Title)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	all := strings.Join(exprs, "\n")
	used := reMetricName.FindAllString(all, -1)
	if len(used) < 10 {
		t.Fatalf("the dashboard reads %d series; the extractor is broken", len(used))
	}

	scrape := metricsAfterTraffic(t)
	exported := map[string]bool{}
	for _, line := range strings.Split(scrape, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		exported[line[:strings.IndexAny(line, "{ ")]] = true
	}
	for _, name := range used {
		if !exported[name] {
			t.Errorf("the dashboard reads %s, which /metrics does not export", name)
		}
	}
	for name := range exported {
		family := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if strings.HasPrefix(name, "agentbridge_") && !strings.Contains(all, family) {
			t.Errorf("/metrics exports %s, which no panel shows", family)
		}
	}
}

// metricsAfterTraffic runs a proxy, gives every agentbridge_ metric a
// sample (a session that ended, a refusal, a ticket minted and redeemed)
// and returns its /metrics.
func metricsAfterTraffic(t *testing.T) string {
	t.Helper()
	addr := startFromYAML(t, `version: 1
auth:
  bff: {type: secret, secrets: [issuer-secret]}
  browser: {type: ticket, issue_with: [bff]}
backends:
  demo: {dialect: demo, demo: {pace: 0s}}
routes:
  - {name: open, path: /open, dialect: plain, auth: none, backend: demo}
  - {name: chat, path: /chat, dialect: plain, auth: [browser], backend: demo}
`, nil)
	c := dialText(t, "ws://"+addr+"/open")
	c.send("hi")
	c.recv()
	c.close()
	if code := handshake(t, addr, "/chat", ""); code != 401 {
		t.Errorf("no credential: %d, want 401", code)
	}
	req, _ := http.NewRequest("POST", "http://"+addr+"/auth/tickets", strings.NewReader(`{"route":"chat"}`))
	req.Header.Set("Authorization", "Bearer issuer-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ticket struct{ Ticket string }
	_ = json.NewDecoder(resp.Body).Decode(&ticket)
	resp.Body.Close()
	c = dialText(t, "ws://"+addr+"/chat?ticket="+ticket.Ticket)
	c.send("hi")
	c.recv()
	c.close()

	// A session's figures are folded in when both its pumps are done,
	// just after the close handshake.
	want := []string{"agentbridge_closes_total{", "agentbridge_messages_total{", "agentbridge_upgrades_refused_total{"}
	var body string
	for deadline := time.Now().Add(5 * time.Second); ; {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		if !slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(body, w) }) || time.Now().After(deadline) {
			return body
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReadmeTries runs what README.md's "Try it" shows against the
// default config.yaml, as a reader would: every Python program it pipes
// into /usr/bin/python3, and the ticket curl, whose url is then connected
// to. Only the port differs.
func TestReadmeTries(t *testing.T) {
	requirePython(t)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	addr := startConfigFile(t, "../../config.yaml", nil)
	md := strings.ReplaceAll(string(readme), "127.0.0.1:8080", addr)

	programs := reHeredoc.FindAllStringSubmatch(md, -1)
	if len(programs) < 2 {
		t.Fatalf("found %d Python programs in README.md; the extractor is broken", len(programs))
	}
	for i, m := range programs {
		t.Run(fmt.Sprintf("python %d", i+1), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, python, "-")
			cmd.Stdin = strings.NewReader(m[1])
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Done! Tokens:") {
				t.Errorf("%v:\n%s\n--- the program:\n%s", err, out, m[1])
			}
		})
	}

	t.Run("ticket", func(t *testing.T) {
		curl := reTicketCurl.FindString(md)
		if curl == "" {
			t.Fatal("no curl ... /auth/tickets line in README.md")
		}
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("no curl")
		}
		out, err := exec.Command("sh", "-c", curl).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", curl, err, out)
		}
		var answer struct{ URL string }
		if err := json.Unmarshal(out, &answer); err != nil || !strings.HasPrefix(answer.URL, "ws://"+addr+"/chat?ticket=") {
			t.Fatalf("%s answered %s", curl, out)
		}
		c := dialText(t, answer.URL)
		c.send("one two")
		var got string
		for frame := c.recv(); frame != "[END]"; frame = c.recv() {
			got += frame
		}
		c.close()
		if got != "You said: one two" {
			t.Errorf("the ticket's socket streamed %q, want You said: one two", got)
		}
	})
}

var (
	reHeredoc    = regexp.MustCompile(`(?s)/usr/bin/python3 - <<'PY'\n(.*?)\nPY\n`)
	reTicketCurl = regexp.MustCompile(`(?m)^curl .*/auth/tickets$`)
)

// fakeConnic serves a Connic backend on 127.0.0.1, as Connic's document
// describes one: it wants secret in X-Connic-Secret, greets with
// "connected", acks each message and streams "Echo: <message>" word by
// word. Each handshake's headers go to the channel (one handshake at a
// time: they are collected in one place). It returns the ws:// URL.
func fakeConnic(t *testing.T, secret string) (string, chan http.Header) {
	t.Helper()
	headers := make(chan http.Header, 8)
	var mu sync.Mutex
	var h http.Header
	u := ws.Upgrader{
		OnRequest: func([]byte) error { mu.Lock(); h = http.Header{}; mu.Unlock(); return nil },
		OnHeader:  func(k, v []byte) error { mu.Lock(); h.Add(string(k), string(v)); mu.Unlock(); return nil },
	}
	addr := serveWS(t, u, func(c net.Conn, rw io.ReadWriter) {
		mu.Lock()
		got := h
		mu.Unlock()
		headers <- got
		send := func(v any) {
			b, _ := json.Marshal(v)
			_ = wsutil.WriteServerText(c, b)
		}
		if got.Get("X-Connic-Secret") != secret {
			send(map[string]any{"type": "error", "message": "invalid secret"})
			return
		}
		send(map[string]any{"type": "connected", "connector_run_id": "run-1", "session_id": "run-1", "agents": []string{"support"}})
		for n := 1; ; n++ {
			msg, err := wsutil.ReadClientText(rw)
			if err != nil {
				return
			}
			var m struct {
				ID      string
				Payload struct{ Message string }
			}
			_ = json.Unmarshal(msg, &m)
			reply := "Echo: " + m.Payload.Message
			send(map[string]any{"type": "ack", "id": m.ID, "message_number": n})
			send(map[string]any{"type": "stream_start", "id": m.ID, "agent": "support"})
			for _, w := range strings.SplitAfter(reply, " ") {
				send(map[string]any{"type": "stream_chunk", "id": m.ID, "agent": "support", "chunk": w})
			}
			send(map[string]any{"type": "stream_end", "id": m.ID, "agent": "support", "full_response": reply,
				"token_usage": map[string]int{"prompt_tokens": 3, "candidates_tokens": 4}})
		}
	})
	return "ws://" + addr + "/ws", headers
}
