// Package e2e drives the real agentbridge binary with real third-party
// WebSocket clients: Python's websockets, Node's ws and Cloudflare's Agents
// SDK (agents/client), on plain, Connic and Wiro routes. Everything listens
// on 127.0.0.1 only.
//
// TestMain builds the binary once (with -race when the suite itself runs
// with -race), or uses $AGENTBRIDGE_E2E_BIN when set. Each test writes its own configuration with a free port,
// starts the binary as a subprocess, waits for /healthz, runs one client
// script with a timeout and stops the process at the end. The proxy's
// stderr is printed to the test log when a test fails.
//
// Missing clients (python3-websockets for /usr/bin/python3, or
// clients/node_modules) fail the tests when $CI is set and skip them with
// an install hint otherwise: run clients/install.sh.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

const (
	python        = "/usr/bin/python3" // Debian's, with python3-websockets; not a pyenv/venv one
	clientTimeout = 30 * time.Second   // one client script run
	startTimeout  = 15 * time.Second   // binary start to /healthz 200
	stopTimeout   = 15 * time.Second   // SIGTERM to exit, for tests that are not about shutdown
	installHint   = "run e2e/clients/install.sh (apt-get install python3-websockets; npm ci in e2e/clients)"
)

var (
	binPath    string // the agentbridge binary built by TestMain
	clientsDir string // absolute path of e2e/clients
	repoRoot   string // absolute path of the module root
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	clientsDir = filepath.Join(wd, "clients")
	repoRoot = filepath.Dir(wd)
	if bin := os.Getenv("AGENTBRIDGE_E2E_BIN"); bin != "" {
		// A prebuilt binary (a release build, or one built from another tree).
		if binPath, err = filepath.Abs(bin); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "agentbridge-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binPath = filepath.Join(dir, "agentbridge")
	args := []string{"build", "-o", binPath}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/agentbridge")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go %s: %v\n%s", strings.Join(args, " "), err, out)
		return 1
	}
	return m.Run()
}

// ---- prerequisites -------------------------------------------------------

// missing fails under CI and skips elsewhere.
func missing(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set, so this is a failure): %s", what, installHint)
	}
	t.Skipf("%s: %s", what, installHint)
}

func requirePython(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		missing(t, python+" not found")
	}
	out, err := exec.Command(python, "-c", "import websockets; print(websockets.__version__)").CombinedOutput()
	if err != nil {
		missing(t, fmt.Sprintf("%s cannot import websockets (%v: %s)", python, err, bytes.TrimSpace(out)))
	}
}

func requireNode(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		missing(t, "node not found on PATH")
	}
	for _, pkg := range []string{"ws", "agents", "partysocket", "react", "react-test-renderer", "ai", "@ai-sdk/react"} {
		if _, err := os.Stat(filepath.Join(clientsDir, "node_modules", pkg, "package.json")); err != nil {
			missing(t, "e2e/clients/node_modules/"+pkg+" is missing")
		}
	}
}

// ---- the proxy process ---------------------------------------------------

// lockedBuffer collects a subprocess's output while tests read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type proxyProc struct {
	addr   string // 127.0.0.1:port
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, valid after done
}

// freePort returns a port that was free a moment ago on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startProxy writes config (a YAML body without listen) into a temporary
// file, starts the binary on a free port and waits for /healthz. The process
// is killed at the end of the test if still running, and its stderr logged
// when the test failed.
func startProxy(t *testing.T, config string) *proxyProc {
	t.Helper()
	dir := t.TempDir()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a freed port may be taken again by someone else
		addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
		path := filepath.Join(dir, "config.yaml")
		body := "listen: " + addr + "\n" + config
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		p := &proxyProc{addr: addr, stderr: &lockedBuffer{}, done: make(chan struct{})}
		p.cmd = exec.Command(binPath, "serve", "-config", path)
		p.cmd.Stdout = p.stderr
		p.cmd.Stderr = p.stderr
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { p.err = p.cmd.Wait(); close(p.done) }()
		t.Cleanup(func() {
			select {
			case <-p.done:
			default:
				_ = p.cmd.Process.Kill()
				<-p.done
			}
			if t.Failed() {
				t.Logf("agentbridge config:\n%s\nagentbridge output (exit: %v):\n%s", body, p.err, p.stderr.String())
			}
			if out := p.stderr.String(); strings.Contains(out, "WARNING: DATA RACE") {
				t.Errorf("the race detector reported a data race in agentbridge:\n%s", out)
			}
		})
		lastErr = p.waitHealthy()
		if lastErr == nil {
			return p
		}
		select {
		case <-p.done:
			if strings.Contains(p.stderr.String(), "address already in use") {
				continue
			}
		default:
		}
		break
	}
	t.Fatalf("agentbridge did not become healthy: %v", lastErr)
	return nil
}

func (p *proxyProc) waitHealthy() error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("exited early: %v", p.err)
		default:
		}
		resp, err := client.Get("http://" + p.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no /healthz 200 within %v", startTimeout)
}

func (p *proxyProc) url(path string) string { return "ws://" + p.addr + path }

// stop sends SIGTERM and waits for the exit code.
func (p *proxyProc) stop(t *testing.T, within time.Duration) (code int, elapsed time.Duration) {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("agentbridge did not exit within %v of SIGTERM", within)
	}
	return p.cmd.ProcessState.ExitCode(), time.Since(start)
}

// ---- configurations ------------------------------------------------------

// baseConfig is the configuration most tests use: the demo agent on whole
// and streamed routes, a passthrough route to echoURL (a Go plain echo
// backend), a route whose backend is down, and the exact path the Agents
// SDK builds for agent "dialogue-agent", name "insight-seeker".
func baseConfig(pace time.Duration, drain time.Duration, echoURL, deadURL string) string {
	return fmt.Sprintf(`version: 1
log: {level: debug, format: text}
shutdown: {drain_timeout: %s}
auth:
  open: {type: none}
backends:
  demo:
    dialect: demo
    demo: {pace: %s, thinking: false, prefix: "You said: "}
  echo: {dialect: plain, url: %q, dial_timeout: 2s, handshake_timeout: 2s}
  dead: {dialect: plain, url: %q, dial_timeout: 2s, handshake_timeout: 2s}
routes:
  - {name: sdk, path: /agents/dialogue-agent/insight-seeker, dialect: plain, auth: none, backend: demo}
  - {name: agents, path: /agents/:agent/:name, dialect: plain, auth: [open], backend: demo}
  - name: stream
    path: /stream/:agent/:name
    dialect: plain
    auth: none
    backend: demo
    reply: stream
    end_marker: "[END]"
  - {name: echo, path: /echo, dialect: plain, auth: none, backend: echo}
  - {name: dead, path: /dead, dialect: plain, auth: none, backend: dead}
`, drain, pace, echoURL, deadURL)
}

// deadURL is a ws:// URL on which nothing listens.
func deadURL(t *testing.T) string {
	return "ws://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/"
}

// startStandard starts an echo backend and a proxy with baseConfig.
func startStandard(t *testing.T, pace, drain time.Duration) *proxyProc {
	t.Helper()
	echo := startEchoBackend(t)
	return startProxy(t, baseConfig(pace, drain, echo, deadURL(t)))
}

// ---- a Go plain echo backend (gobwas/ws) ---------------------------------

// startEchoBackend serves WebSocket on 127.0.0.1 and answers each text
// message with "echo: "+text. It returns its ws:// URL.
func startEchoBackend(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
					c.Close()
				}()
				_ = c.SetDeadline(time.Now().Add(time.Minute))
				if _, err := ws.Upgrade(c); err != nil {
					t.Logf("echo backend: upgrade: %v", err)
					return
				}
				for {
					msg, op, err := wsutil.ReadClientData(c)
					if err != nil {
						return // includes the peer's close, which wsutil answers
					}
					if op != ws.OpText {
						continue
					}
					if err := wsutil.WriteServerMessage(c, ws.OpText, append([]byte("echo: "), msg...)); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "ws://" + ln.Addr().String() + "/"
}

// ---- running client scripts ----------------------------------------------

// runClient runs a client script in e2e/clients with a timeout and fails the
// test with its output when it does not exit 0.
func runClient(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = clientsDir
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out after %v\n%s", name, strings.Join(args, " "), clientTimeout, out)
	}
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	t.Logf("%s %s:\n%s", filepath.Base(name), strings.Join(args, " "), out)
	return string(out)
}

func runPython(t *testing.T, args ...string) string {
	t.Helper()
	return runClient(t, python, append([]string{"plain_client.py"}, args...)...)
}

func runNode(t *testing.T, args ...string) string {
	t.Helper()
	return runClient(t, "node", args...)
}

// ---- tests ---------------------------------------------------------------

func TestHealth(t *testing.T) {
	t.Parallel()
	p := startStandard(t, 5*time.Millisecond, 5*time.Second)
	client := &http.Client{Timeout: 5 * time.Second}
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := client.Get("http://" + p.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
		}
	}
	// A plain HTTP GET to a WebSocket route is refused before any upgrade.
	resp, err := client.Get("http://" + p.addr + "/nowhere")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(resp.Header.Get("Content-Type"), "json") {
		t.Errorf("GET /nowhere: %d %q %s, want 404 JSON", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if code, _ := p.stop(t, stopTimeout); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}

func TestPythonDemo(t *testing.T) {
	t.Parallel()
	requirePython(t)
	p := startStandard(t, 5*time.Millisecond, 5*time.Second)
	runPython(t, "demo", p.url("/agents/demo/me"))
}

func TestPythonStream(t *testing.T) {
	t.Parallel()
	requirePython(t)
	p := startStandard(t, 5*time.Millisecond, 5*time.Second)
	runPython(t, "stream", p.url("/stream/demo/me"), "[END]")
}

func TestPythonEchoPassthrough(t *testing.T) {
	t.Parallel()
	requirePython(t)
	p := startStandard(t, 5*time.Millisecond, 5*time.Second)
	runPython(t, "echo", p.url("/echo"))
}

func TestPythonHTTPErrors(t *testing.T) {
	t.Parallel()
	requirePython(t)
	p := startStandard(t, 5*time.Millisecond, 5*time.Second)
	t.Run("unknown path 404", func(t *testing.T) { runPython(t, "status", p.url("/no/such/route"), "404") })
	t.Run("dead backend 502", func(t *testing.T) { runPython(t, "status", p.url("/dead"), "502") })
}

func TestNodeWS(t *testing.T) {
	t.Parallel()
	requireNode(t)
	p := startStandard(t, 5*time.Millisecond, 5*time.Second)
	t.Run("demo", func(t *testing.T) { runNode(t, "ws_client.js", "demo", p.url("/agents/demo/me")) })
	t.Run("echo passthrough", func(t *testing.T) { runNode(t, "ws_client.js", "echo", p.url("/echo")) })
	t.Run("unknown path 404", func(t *testing.T) { runNode(t, "ws_client.js", "status", p.url("/no/such/route"), "404") })
	t.Run("dead backend 502", func(t *testing.T) { runNode(t, "ws_client.js", "status", p.url("/dead"), "502") })
}

func TestNodeAgentsClient(t *testing.T) {
	t.Parallel()
	requireNode(t)
	p := startStandard(t, 5*time.Millisecond, 5*time.Second)
	out := runNode(t, "agents_client.mjs", p.addr)
	if !strings.Contains(out, "open ws://"+p.addr+"/agents/dialogue-agent/insight-seeker") {
		t.Errorf("AgentClient did not open the expected URL:\n%s", out)
	}
}

// TestShutdownDrain: replies in flight when SIGTERM arrives are delivered
// whole, then each client gets close 1001; new connections are refused;
// the process exits 0 within the drain timeout.
func TestShutdownDrain(t *testing.T) {
	t.Parallel()
	requirePython(t)
	const (
		pace  = 50 * time.Millisecond // 40 words: about 2s of reply
		drain = 10 * time.Second
	)
	p := startStandard(t, pace, drain)

	type client struct {
		name   string
		cmd    *exec.Cmd
		out    *lockedBuffer
		ready  chan struct{} // the client printed "inflight"
		done   chan struct{}
		err    error
		cancel context.CancelFunc
	}
	start := func(name string, args ...string) *client {
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
		c := &client{name: name, out: &lockedBuffer{}, ready: make(chan struct{}), done: make(chan struct{}), cancel: cancel}
		c.cmd = exec.CommandContext(ctx, python, append([]string{"plain_client.py"}, args...)...)
		c.cmd.Dir = clientsDir
		c.cmd.WaitDelay = 2 * time.Second
		c.cmd.Stderr = c.out
		stdout, err := c.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			sc := bufio.NewScanner(stdout)
			seen := false
			for sc.Scan() {
				line := sc.Text()
				fmt.Fprintln(c.out, line)
				if line == "inflight" && !seen {
					seen = true
					close(c.ready)
				}
			}
			c.err = c.cmd.Wait()
			close(c.done)
		}()
		t.Cleanup(func() { cancel(); <-c.done })
		return c
	}
	clients := []*client{
		start("whole", "shutdown", p.url("/agents/demo/whole"), "-"),
		start("stream", "shutdown", p.url("/stream/demo/streamed"), "[END]"),
	}
	for _, c := range clients {
		select {
		case <-c.ready:
		case <-c.done:
			t.Fatalf("%s client ended before its reply was in flight: %v\n%s", c.name, c.err, c.out.String())
		case <-time.After(clientTimeout):
			t.Fatalf("%s client: no reply in flight after %v\n%s", c.name, clientTimeout, c.out.String())
		}
	}

	sigAt := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// New connections are refused while the replies still run.
	refusedAt := time.Time{}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		switch {
		case err == nil:
			c.Close() // accepted before the listener closed
		case errors.Is(err, syscall.ECONNRESET):
			// This dial raced the listener's close: the kernel reset a
			// connection still in the accept queue. Try again.
		case errors.Is(err, syscall.ECONNREFUSED):
			refusedAt = time.Now()
		default:
			t.Fatalf("dial after SIGTERM: %v, want connection refused", err)
		}
		if !refusedAt.IsZero() {
			break
		}
	}
	if refusedAt.IsZero() {
		t.Fatal("the listener still accepted connections 2s after SIGTERM")
	}
	select {
	case <-p.done:
		t.Fatalf("the process exited (%v) before the in-flight replies were done", p.err)
	default:
	}
	t.Logf("listener closed %v after SIGTERM", refusedAt.Sub(sigAt).Round(time.Millisecond))
	runPython(t, "refused", p.url("/agents/demo/late"))

	for _, c := range clients {
		select {
		case <-c.done:
		case <-time.After(clientTimeout):
			t.Fatalf("%s client did not finish", c.name)
		}
		if c.err != nil {
			t.Errorf("%s client: %v\n%s", c.name, c.err, c.out.String())
		} else {
			t.Logf("%s client:\n%s", c.name, c.out.String())
		}
	}

	select {
	case <-p.done:
	case <-time.After(drain + 5*time.Second):
		t.Fatalf("agentbridge still running %v after SIGTERM", drain+5*time.Second)
	}
	elapsed := time.Since(sigAt)
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if elapsed > drain {
		t.Errorf("exit took %v after SIGTERM, more than drain_timeout %v", elapsed, drain)
	}
	t.Logf("exited %v after SIGTERM", elapsed.Round(time.Millisecond))
}

// TestCLI covers validate and version.
func TestCLI(t *testing.T) {
	t.Parallel()
	run := func(args ...string) (code int, stdout, stderr string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, binPath, args...)
		cmd.Dir = t.TempDir()
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		err := cmd.Run()
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			code = ee.ExitCode()
		default:
			t.Fatalf("%v: %v", args, err)
		}
		return code, o.String(), e.String()
	}

	t.Run("validate repo config", func(t *testing.T) {
		path := filepath.Join(repoRoot, "config.yaml")
		code, out, errOut := run("validate", "-config", path)
		if code != 0 || !strings.Contains(out, "ok") {
			t.Errorf("validate %s: exit %d, stdout %q, stderr %q; want 0 and ok", path, code, out, errOut)
		}
	})

	t.Run("validate broken config", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "broken.yaml")
		broken := "version: 1\nlisten: 127.0.0.1:0\nbackends:\n  demo: {dialect: demo}\nroutes:\n  - path: /chat\n    dialect: plain\n    backend: demo\n"
		if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := run("validate", "-config", path)
		if code != 1 {
			t.Errorf("exit %d, want 1 (stdout %q, stderr %q)", code, out, errOut)
		}
		want := regexp.MustCompile(`broken\.yaml:6:\d+: routes\[0\]\.auth: required`)
		if !want.MatchString(errOut) {
			t.Errorf("stderr %q does not match %v", errOut, want)
		}
	})

	t.Run("version", func(t *testing.T) {
		code, out, errOut := run("version")
		if code != 0 || !strings.HasPrefix(out, "agentbridge ") {
			t.Errorf("version: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
}

// TestSignalsAndListen: SIGHUP reloads the configuration (the proxy keeps
// serving), and "listening" is logged only once the port is bound: a taken
// port is an error naming the address, with no "listening" line.
func TestSignalsAndListen(t *testing.T) {
	t.Parallel()
	p := startStandard(t, 5*time.Millisecond, 5*time.Second)
	if !strings.Contains(p.stderr.String(), "agentbridge listening") {
		t.Errorf("no listening line once healthy:\n%s", p.stderr.String())
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.stderr.String(), "configuration reloaded") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(p.stderr.String(), "configuration reloaded") {
		t.Errorf("SIGHUP did not reload:\n%s", p.stderr.String())
	}
	if err := p.waitHealthy(); err != nil {
		t.Fatalf("after SIGHUP: %v", err)
	}

	// A second proxy on the same port.
	path := filepath.Join(t.TempDir(), "taken.yaml")
	cfg := "listen: " + p.addr + "\nversion: 1\nbackends: {demo: {dialect: demo}}\nroutes:\n  - {path: /a, dialect: plain, auth: none, backend: demo}\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binPath, "serve", "-config", path).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("second proxy on a taken port: %v, want exit 1", err)
	}
	if strings.Contains(string(out), "listening") || !strings.Contains(string(out), "address already in use") || !strings.Contains(string(out), p.addr) {
		t.Errorf("second proxy's output names no bind error, or claims to listen:\n%s", out)
	}
	if code, _ := p.stop(t, stopTimeout); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}

// ---- Connic and Wiro dialects --------------------------------------------

// connicConfig: Connic routes authenticated by two shared secrets, on the
// demo agent (streamed, and with streaming off) and on a Go plain echo
// backend, so a Connic client's messages are translated to plain text.
func connicConfig(echoURL string) string {
	return fmt.Sprintf(`version: 1
log: {level: debug, format: text}
auth:
  team: {type: secret, secrets: ["s3cret", "old-secret"]}
backends:
  demo: {dialect: demo, demo: {pace: 5ms}}
  echo: {dialect: plain, url: %q, dial_timeout: 2s, handshake_timeout: 2s}
routes:
  - {path: /connic, dialect: connic, auth: [team], backend: demo}
  - {path: /connic-whole, dialect: connic, auth: [team], backend: demo, session: {streaming: false}}
  - {path: /connic-echo, dialect: connic, auth: [team], backend: echo}
`, echoURL)
}

// TestConnicPython drives Connic routes with Python's websockets, following
// the Python example of Connic's WebSocket connector document.
func TestConnicPython(t *testing.T) {
	t.Parallel()
	requirePython(t)
	p := startProxy(t, connicConfig(startEchoBackend(t)))
	run := func(t *testing.T, args ...string) string {
		t.Helper()
		return runClient(t, python, append([]string{"connic_client.py"}, args...)...)
	}
	t.Run("first-frame secret, doc example", func(t *testing.T) { run(t, "first-frame", p.url("/connic"), "s3cret") })
	t.Run("X-Connic-Secret header", func(t *testing.T) { run(t, "header", p.url("/connic"), "s3cret") })
	t.Run("X-Connic-Secret query", func(t *testing.T) { run(t, "query", p.url("/connic?X-Connic-Secret=old-secret")) })
	t.Run("wrong header secret 401", func(t *testing.T) { run(t, "bad-header", p.url("/connic"), "wrong") })
	t.Run("wrong first-frame secret 1008", func(t *testing.T) { run(t, "bad-secret", p.url("/connic"), "wrong") })
	t.Run("bad JSON after auth", func(t *testing.T) { run(t, "bad-json", p.url("/connic"), "s3cret") })
	t.Run("streaming off", func(t *testing.T) { run(t, "whole", p.url("/connic-whole"), "s3cret") })
	t.Run("to a plain echo backend", func(t *testing.T) { run(t, "echo", p.url("/connic-echo"), "s3cret") })
}

// wiroConfig: Wiro routes keyed by x-api-key on the demo agent with
// thinking, a slow one for cancels, and a slow one with thinking for
// subscriptions in the middle of a reply.
const wiroConfig = `version: 1
log: {level: debug, format: text}
auth:
  keys: {type: secret, secrets: ["wiro-key"]}
backends:
  demo: {dialect: demo, demo: {pace: 5ms, thinking: true}}
  slow: {dialect: demo, demo: {pace: 100ms}}
  slowthink: {dialect: demo, demo: {pace: 100ms, thinking: true}}
routes:
  - {path: /v1, dialect: wiro, auth: [keys], backend: demo}
  - {path: /slow, dialect: wiro, auth: [keys], backend: slow}
  - {path: /slow-think, dialect: wiro, auth: [keys], backend: slowthink}
`

// TestWiroNode drives Wiro routes with Node: the REST send (global fetch)
// and the ws package's socket, following the Node.js example of Wiro's
// Agent WebSocket document.
func TestWiroNode(t *testing.T) {
	t.Parallel()
	requireNode(t)
	p := startProxy(t, wiroConfig)
	base := func(route string) string { return "http://" + p.addr + route }
	run := func(t *testing.T, mode, route, key string) {
		t.Helper()
		runNode(t, "wiro_client.js", mode, base(route), key)
	}
	t.Run("send and stream, doc example", func(t *testing.T) { run(t, "flow", "/v1", "wiro-key") })
	t.Run("same sessionkey twice", func(t *testing.T) { run(t, "session", "/v1", "wiro-key") })
	t.Run("late subscriber", func(t *testing.T) { run(t, "late", "/v1", "wiro-key") })
	t.Run("subscribe mid-reply", func(t *testing.T) { run(t, "midstream", "/slow-think", "wiro-key") })
	t.Run("wrong x-api-key 401", func(t *testing.T) { run(t, "badkey", "/v1", "wrong") })
	t.Run("cancel", func(t *testing.T) { run(t, "cancel", "/slow", "wiro-key") })
}

// ---- the Cloudflare Agents dialect (agents) ------------------------------

// requireAgentsDialect skips the test when the binary under test was built
// without the agents dialect (its "agentbridge version" line lists the
// dialects compiled in), naming what it found. Any other problem fails.
func requireAgentsDialect(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, binPath, "version").Output()
	if err != nil {
		t.Fatalf("%s version: %v", binPath, err)
	}
	line := strings.TrimSpace(string(out))
	_, list, ok := strings.Cut(line, "dialects: ")
	if !ok {
		t.Fatalf("%s version: no dialect list in %q", binPath, line)
	}
	list = strings.TrimSuffix(list, ")")
	for _, d := range strings.Split(list, ",") {
		name, _, _ := strings.Cut(strings.TrimSpace(d), " ")
		if name == "agents" {
			return
		}
	}
	t.Skipf("this agentbridge binary has no agents dialect (version: %q): these tests need translators/agents", line)
}

// agentsConfig: the agents dialect on the route the Agents SDK builds,
// /agents/:agent/:name, to one backend: "demo" (the demo agent, 5ms a
// word), "slow" (the demo agent, 50ms a word, for cancels) or "echo" (a Go
// plain echo backend at echoURL). A route with a literal agent segment,
// /agents/fixed-agent/:name, comes first (first match wins).
func agentsConfig(backend, echoURL string) string {
	return fmt.Sprintf(`version: 1
log: {level: debug, format: text}
auth:
  open: {type: none}
backends:
  demo: {dialect: demo, demo: {pace: 5ms, thinking: false, prefix: "You said: "}}
  slow: {dialect: demo, demo: {pace: 50ms, thinking: false, prefix: "You said: "}}
  echo: {dialect: plain, url: %q, dial_timeout: 2s, handshake_timeout: 2s}
routes:
  - {name: agents-fixed, path: /agents/fixed-agent/:name, dialect: agents, auth: [open], backend: %s}
  - {name: agents, path: /agents/:agent/:name, dialect: agents, auth: [open], backend: %s}
`, echoURL, backend, backend)
}

// chatSummary is the SUMMARY line of clients/agents_chat_client.mjs.
type chatSummary struct {
	Mode     string  `json:"mode"`
	URL      string  `json:"url"`
	Status   string  `json:"status"`
	Error    *string `json:"error"`
	Messages []struct {
		ID   string `json:"id"`
		Role string `json:"role"`
		Text string `json:"text"`
	} `json:"messages"`
	Text        *string             `json:"text"`
	Turns       map[string]chatTurn `json:"turns"`
	Other       []map[string]any    `json:"other"`
	Sent        []json.RawMessage   `json:"sent"`
	GetMessages []struct {
		URL         string `json:"url"`
		Status      int    `json:"status"`
		ContentType string `json:"contentType"`
		Body        string `json:"body"`
		Error       string `json:"error"`
	} `json:"getMessages"`
	Closed           map[string]any `json:"closed"`
	RequestID        string         `json:"requestId"`
	AfterRequestID   string         `json:"afterRequestId"`
	TextAtStop       string         `json:"textAtStop"`
	StatusAtStop     string         `json:"statusAtStop"`
	TextAfterStop    *string        `json:"textAfterStop"`
	TextBeforeReload string         `json:"textBeforeReload"`
	SecondURL        string         `json:"secondUrl"`
	Tab2             *struct {
		Status   string `json:"status"`
		Messages []struct {
			Role string `json:"role"`
			Text string `json:"text"`
		} `json:"messages"`
	} `json:"tab2"`
}

// chatTurn is what the client saw of one request id's
// cf_agent_use_chat_response frames.
type chatTurn struct {
	Chunks   []string `json:"chunks"` // UIMessageChunk types, in order
	Deltas   int      `json:"deltas"` // text-delta chunks
	Text     string   `json:"text"`   // the text-deltas joined
	Terminal *struct {
		Outcome    *string  `json:"outcome"`
		MessageIDs []string `json:"messageIds"`
		Body       string   `json:"body"`
	} `json:"terminal"` // the done:true frame
	Errors        []string `json:"errors"`        // bodies of error:true frames
	AfterTerminal int      `json:"afterTerminal"` // frames for this id after the terminal one
}

// str quotes a JSON string or null of the summary for messages.
func str(p *string) string {
	if p == nil {
		return "null"
	}
	return strconv.Quote(*p)
}

// runChat runs agents_chat_client.mjs and decodes its SUMMARY line.
func runChat(t *testing.T, args ...string) chatSummary {
	t.Helper()
	out := runNode(t, append([]string{"agents_chat_client.mjs"}, args...)...)
	i := strings.LastIndex(out, "SUMMARY ")
	if i < 0 {
		t.Fatalf("no SUMMARY line in the client's output:\n%s", out)
	}
	line, _, _ := strings.Cut(out[i+len("SUMMARY "):], "\n")
	var s chatSummary
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		t.Fatalf("SUMMARY: %v\n%s", err, line)
	}
	return s
}

// checkChatTurn checks one completed (or, with outcome "aborted", one
// cancelled) streamed reply as the frames carried it: a start chunk first,
// text-start before the deltas, text-end and finish after them when
// completed, a terminal frame naming the user message's id, and nothing for
// that id after the terminal frame.
func checkChatTurn(t *testing.T, s chatSummary, id, userMsgID, wantOutcome string) chatTurn {
	t.Helper()
	turn, ok := s.Turns[id]
	if !ok {
		t.Fatalf("no cf_agent_use_chat_response frame for request %s (turns: %+v)", id, s.Turns)
	}
	if len(turn.Errors) > 0 {
		t.Errorf("request %s: error frames %q", id, turn.Errors)
	}
	if len(turn.Chunks) == 0 || turn.Chunks[0] != "start" {
		t.Errorf("request %s: chunks %q, want start first", id, turn.Chunks)
	}
	pos := func(typ string) int {
		for i, c := range turn.Chunks {
			if c == typ {
				return i
			}
		}
		return -1
	}
	firstDelta := pos("text-delta")
	if firstDelta < 0 || pos("text-start") < 0 || pos("text-start") > firstDelta {
		t.Errorf("request %s: chunks %q, want text-start then text-delta", id, turn.Chunks)
	}
	for _, c := range turn.Chunks {
		if strings.HasPrefix(c, "unparsable") {
			t.Errorf("request %s: a body is not one JSON UIMessageChunk: %s", id, c)
		}
	}
	if wantOutcome == "completed" {
		end, fin := pos("text-end"), pos("finish")
		last := 0
		for i, c := range turn.Chunks {
			if c == "text-delta" {
				last = i
			}
		}
		if end < last || fin < end {
			t.Errorf("request %s: chunks %q, want text-end after the last text-delta, then finish", id, turn.Chunks)
		}
	}
	if turn.Terminal == nil {
		t.Fatalf("request %s: no done:true frame", id)
	}
	outcome := "completed" // absent means completed
	if turn.Terminal.Outcome != nil {
		outcome = *turn.Terminal.Outcome
	}
	if outcome != wantOutcome {
		t.Errorf("request %s: terminal outcome %q, want %q", id, outcome, wantOutcome)
	}
	if len(turn.Terminal.MessageIDs) != 1 || turn.Terminal.MessageIDs[0] != userMsgID {
		t.Errorf("request %s: terminal messageIds %q, want [%q] (the user message's id)", id, turn.Terminal.MessageIDs, userMsgID)
	}
	if turn.AfterTerminal != 0 {
		t.Errorf("request %s: %d frames after the terminal one", id, turn.AfterTerminal)
	}
	return turn
}

// checkChatConnect: the socket went to /agents/AGENT/NAME with a _pk, the
// server's identity names that agent and name, an empty MCP server set
// came with it, and no frame came back as plain text (an SDK envelope
// such as the resume probe answered as if it were a user's message).
func checkChatConnect(t *testing.T, s chatSummary, p *proxyProc, agent, name string) {
	t.Helper()
	if want := "ws://" + p.addr + "/agents/" + agent + "/" + name + "?_pk="; !strings.HasPrefix(s.URL, want) {
		t.Errorf("socket URL %q, want %s<uuid>", s.URL, want)
	}
	var identity, mcp bool
	for _, f := range s.Other {
		switch f["type"] {
		case "cf_agent_identity":
			identity = true
			if f["name"] != name || f["agent"] != agent {
				t.Errorf("cf_agent_identity %v, want name %q agent %q", f, name, agent)
			}
		case "cf_agent_mcp_servers":
			mcp = true
		case nil:
			t.Errorf("a frame that is no SDK envelope reached the chat client: %v", f)
		}
	}
	if !identity || !mcp {
		t.Errorf("frames other than chat responses: %v; want cf_agent_identity and cf_agent_mcp_servers", s.Other)
	}
	if s.Closed != nil {
		t.Errorf("the socket closed during the test: %v", s.Closed)
	}
	// useAgentChat GETs .../get-messages before it connects: a non-2xx
	// status is logged and treated as no history, but a 200 whose body is
	// JSON other than an array of UIMessages breaks the hook.
	for _, g := range s.GetMessages {
		t.Logf("get-messages: GET %s: %d %s %q %s", g.URL, g.Status, g.ContentType, g.Body, g.Error)
		if g.Status == http.StatusOK {
			var msgs []map[string]any
			if err := json.Unmarshal([]byte(g.Body), &msgs); err != nil {
				t.Errorf("get-messages 200 body is not a JSON array of UIMessages: %v: %q", err, g.Body)
			}
		}
	}
}

// userMessage returns the id of the user message with text, failing the
// test when the hook's transcript lacks it.
func userMessage(t *testing.T, s chatSummary, text string) string {
	t.Helper()
	for _, m := range s.Messages {
		if m.Role == "user" && m.Text == text {
			return m.ID
		}
	}
	t.Fatalf("no user message %q in the transcript %+v", text, s.Messages)
	return ""
}

// TestNodeAgentsChat drives agents routes with the Agents SDK's React chat
// hook (useAgent + useAgentChat from agents/react and agents/chat/react,
// rendered by react-test-renderer in Node): the user's text reaches the
// backend as one user message and its reply streams back as UIMessageChunk
// frames that the hook renders; stop() mid-reply cancels the backend turn
// (terminal outcome "aborted", partial text) and the socket stays usable.
// AgentClient's ready (identity and MCP servers on connect) and the plain
// superset (app JSON answered as text) are checked on the same routes.
func TestNodeAgentsChat(t *testing.T) {
	t.Parallel()
	requireNode(t)
	requireAgentsDialect(t)
	echo := startEchoBackend(t)
	p := startProxy(t, agentsConfig("demo", echo))
	pEcho := startProxy(t, agentsConfig("echo", echo))
	pSlow := startProxy(t, agentsConfig("slow", echo))

	t.Run("demo streamed reply", func(t *testing.T) {
		const text = "héllo there, agent 👋 how are you"
		s := runChat(t, "chat", p.addr, "my-chat-agent", "room-1", text)
		checkChatConnect(t, s, p, "my-chat-agent", "room-1")
		want := "You said: " + text
		if s.Status != "ready" || s.Error != nil {
			t.Errorf("hook status %q error %s, want ready and no error", s.Status, str(s.Error))
		}
		if s.Text == nil || *s.Text != want {
			t.Errorf("assistant text %s, want %q (transcript %+v)", str(s.Text), want, s.Messages)
		}
		if len(s.Messages) != 2 || s.Messages[1].Role != "assistant" {
			t.Errorf("transcript %+v, want the user message then the assistant's", s.Messages)
		}
		turn := checkChatTurn(t, s, s.RequestID, userMessage(t, s, text), "completed")
		if turn.Text != want {
			t.Errorf("text-deltas join to %q, want %q", turn.Text, want)
		}
		// The demo agent streams word by word: more than one delta.
		if turn.Deltas < 2 {
			t.Errorf("%d text-delta chunks for a %d-word reply, want it streamed", turn.Deltas, len(strings.Fields(want)))
		}
	})

	t.Run("plain echo backend", func(t *testing.T) {
		const text = "hello echo"
		s := runChat(t, "chat", pEcho.addr, "echo-agent", "room-2", text)
		checkChatConnect(t, s, pEcho, "echo-agent", "room-2")
		want := "echo: " + text
		if s.Status != "ready" || s.Error != nil {
			t.Errorf("hook status %q error %s, want ready and no error", s.Status, str(s.Error))
		}
		if s.Text == nil || *s.Text != want {
			t.Errorf("assistant text %s, want %q (transcript %+v)", str(s.Text), want, s.Messages)
		}
		turn := checkChatTurn(t, s, s.RequestID, userMessage(t, s, text), "completed")
		if turn.Text != want {
			t.Errorf("text-deltas join to %q, want %q", turn.Text, want)
		}
	})

	t.Run("cancel mid-reply", func(t *testing.T) {
		words := make([]string, 40) // 50ms a word: about 2s of reply
		for i := range words {
			words[i] = "word" + strconv.Itoa(i)
		}
		text := strings.Join(words, " ")
		const after = "after the cancel"
		s := runChat(t, "cancel", pSlow.addr, "slow-agent", "room-3", text, after)
		checkChatConnect(t, s, pSlow, "slow-agent", "room-3")
		full := "You said: " + text
		turn := checkChatTurn(t, s, s.RequestID, userMessage(t, s, text), "aborted")
		if s.TextAtStop == "" || !strings.HasPrefix(full, s.TextAtStop) {
			t.Errorf("text when stop() was called %q, want a non-empty prefix of %q", s.TextAtStop, full)
		}
		if !strings.HasPrefix(full, turn.Text) || len(turn.Text) >= len(full) {
			t.Errorf("the cancelled reply's deltas join to %q, want a strict prefix of %q", turn.Text, full)
		}
		if s.TextAfterStop == nil || !strings.HasPrefix(full, *s.TextAfterStop) || len(*s.TextAfterStop) >= len(full) {
			t.Errorf("the hook's assistant text after stop() %s, want a strict prefix of %q", str(s.TextAfterStop), full)
		}
		// The same socket answers the next message in full.
		if s.Text == nil || *s.Text != "You said: "+after {
			t.Errorf("reply after the cancel %s, want %q (transcript %+v)", str(s.Text), "You said: "+after, s.Messages)
		}
		checkChatTurn(t, s, s.AfterRequestID, userMessage(t, s, after), "completed")
		if s.Status != "ready" || s.Error != nil {
			t.Errorf("hook status %q error %s after the second turn, want ready and no error", s.Status, str(s.Error))
		}
	})

	// A tab that reloads mid-reply: the new useAgentChat (a new socket and
	// _pk on the same name) loads the history, probes, is offered the reply
	// in progress, acks, and renders it whole: replayed from its start,
	// then live, with no gap and nothing twice.
	t.Run("reload mid-reply resumes", func(t *testing.T) {
		words := make([]string, 100) // 50ms a word: 5s of reply, the reload takes about 1s
		for i := range words {
			words[i] = "w" + strconv.Itoa(i)
		}
		text := strings.Join(words, " ")
		s := runChat(t, "reload", pSlow.addr, "slow-agent", "room-7", text)
		full := "You said: " + text
		if s.TextBeforeReload == "" || len(s.TextBeforeReload) >= len(full) {
			t.Errorf("text before the reload %q: want a strict prefix of the reply", s.TextBeforeReload)
		}
		if s.SecondURL == "" || s.SecondURL == s.URL {
			t.Errorf("second socket %q, first %q: want a new socket", s.SecondURL, s.URL)
		}
		if s.Status != "ready" || s.Error != nil {
			t.Errorf("hook status %q error %s after the resume, want ready and no error", s.Status, str(s.Error))
		}
		if s.Text == nil || *s.Text != full {
			t.Errorf("assistant text after the reload %s, want %q whole (transcript %+v)", str(s.Text), full, s.Messages)
		}
		turn := s.Turns[s.RequestID]
		if turn.Text != full || turn.AfterTerminal != 0 {
			t.Errorf("the second socket's text-deltas join to %q (%d frames after the terminal one), want %q once", turn.Text, turn.AfterTerminal, full)
		}
		resuming := false
		for _, o := range s.Other {
			if o["type"] == "cf_agent_stream_resuming" && o["id"] == s.RequestID {
				resuming = true
			}
		}
		if !resuming {
			t.Errorf("no cf_agent_stream_resuming for %s among %v", s.RequestID, s.Other)
		}
	})

	// Two tabs on one name: the reply to the first tab's message is
	// rendered by the second too, from the frames written to every socket.
	t.Run("two tabs share the reply", func(t *testing.T) {
		const text = "hello both tabs"
		s := runChat(t, "tabs", p.addr, "my-chat-agent", "room-8", text)
		want := "You said: " + text
		if s.Text == nil || *s.Text != want {
			t.Errorf("tab 1 text %s, want %q", str(s.Text), want)
		}
		if s.Tab2 == nil || s.Tab2.Status != "ready" {
			t.Fatalf("tab 2: %+v", s.Tab2)
		}
		// The user's message too: the proxy sends the path's messages to
		// the other sockets, as the SDK's server does.
		if n := len(s.Tab2.Messages); n != 2 || s.Tab2.Messages[0].Role != "user" || s.Tab2.Messages[0].Text != text ||
			s.Tab2.Messages[1].Role != "assistant" || s.Tab2.Messages[1].Text != want {
			t.Errorf("tab 2 messages %+v, want the user's %q then the assistant's %q", s.Tab2.Messages, text, want)
		}
	})

	t.Run("AgentClient ready, demo", func(t *testing.T) {
		runNode(t, "agents_client.mjs", p.addr, "ready", "my-agent", "room-4", "You said: ")
	})
	t.Run("AgentClient ready, plain echo backend", func(t *testing.T) {
		runNode(t, "agents_client.mjs", pEcho.addr, "ready", "echo-agent", "room-5", "echo: ")
	})
	// An Agents server's identity names the agent of the socket's path (its
	// kebab-cased binding), whatever the route's pattern: AgentClient and
	// useAgent take it as their agent.
	t.Run("route with a literal agent segment", func(t *testing.T) {
		runNode(t, "agents_client.mjs", p.addr, "ready", "fixed-agent", "room-6", "You said: ")
	})
}
