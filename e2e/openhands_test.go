package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// ohReply is what e2e/clients/openhands_server.py's agent says before the
// user's text.
const ohReply = "OpenHands heard: "

// requireOpenHandsServer fails or skips (see missing) when /usr/bin/python3
// cannot run the fake OpenHands server: python3-socketio and
// python3-aiohttp.
func requireOpenHandsServer(t *testing.T) {
	t.Helper()
	requirePython(t)
	out, err := exec.Command(python, "-c", "import socketio, engineio, aiohttp").CombinedOutput()
	if err != nil {
		missing(t, fmt.Sprintf("%s cannot import socketio and aiohttp (%v: %s)", python, err, strings.TrimSpace(string(out))))
	}
}

// requireSocketIOClient fails or skips when node or socket.io-client is
// missing.
func requireSocketIOClient(t *testing.T) {
	t.Helper()
	requireNode(t)
	if _, err := os.Stat(filepath.Join(clientsDir, "node_modules", "socket.io-client", "package.json")); err != nil {
		missing(t, "e2e/clients/node_modules/socket.io-client is missing")
	}
}

// startOpenHandsServer runs e2e/clients/openhands_server.py with the
// session API key key on a free port of 127.0.0.1 and returns
// "127.0.0.1:PORT" once it serves. It stops when its standard input
// closes; it is killed at the end of the test in any case, and its output
// (every event it sent and action it got) logged when the test failed.
func startOpenHandsServer(t *testing.T, key string) string {
	t.Helper()
	cmd := exec.Command(python, "openhands_server.py", "--key", key)
	cmd.Dir = clientsDir
	return readyPeer{name: "openhands_server.py", start: 15 * time.Second, exit: 5 * time.Second}.run(t, cmd)
}

// TestOpenHandsBackend: agentbridge's openhands backend against a fake
// OpenHands server on python-socketio (the library OpenHands runs on),
// driven by a plain client and a Connic client: whole replies, and the
// usage of each turn from the differences of llm_metrics' cumulative
// counts. Then an OpenHands UI (socket.io-client) on an openhands route to
// the same server: relayed untouched. (A wrong session_api_key, the
// server's connect error, is in the codec's golden transcript.)
func TestOpenHandsBackend(t *testing.T) {
	t.Parallel()
	requireOpenHandsServer(t)
	server := startOpenHandsServer(t, "oh-key")
	p := startProxy(t, fmt.Sprintf(`version: 1
log: {level: debug, format: text}
auth:
  team: {type: secret, secrets: ["s3cret"]}
  keys: {type: secret, secrets: ["wiro-key"]}
backends:
  oh: {dialect: openhands, url: "ws://%[1]s", conversation_id: "{name}", session_api_key: oh-key, dial_timeout: 2s, handshake_timeout: 5s}
  oh-wiro: {dialect: openhands, url: "ws://%[1]s", conversation_id: wiro-conv, session_api_key: oh-key, dial_timeout: 2s, handshake_timeout: 5s}
  oh-relay: {dialect: openhands, url: "ws://%[1]s/", conversation_id: relay-conv, session_api_key: oh-key, dial_timeout: 2s, handshake_timeout: 5s}
routes:
  - {name: plain, path: /plain/:name, dialect: plain, auth: none, backend: oh}
  - {name: connic, path: /connic/:name, dialect: connic, auth: [team], backend: oh}
  - {name: relay, path: /relay/socket.io, dialect: openhands, auth: none, backend: oh-relay}
  - {name: wiro, path: /v1, dialect: wiro, auth: [keys], backend: oh-wiro}
`, server))

	t.Run("plain client", func(t *testing.T) {
		runPython(t, "echo", p.url("/plain/plain-conv"), ohReply)
	})
	t.Run("Connic client, usage from llm_metrics", func(t *testing.T) {
		runClient(t, python, "connic_client.py", "metered", p.url("/connic/connic-conv"), "s3cret", ohReply)
	})
	t.Run("Wiro client", func(t *testing.T) {
		requireNode(t)
		runNode(t, "wiro_client.js", "reply", "http://"+p.addr+"/v1", "wiro-key", ohReply, "thinks")
	})
	t.Run("wrong session_api_key", func(t *testing.T) {
	})
	t.Run("OpenHands UI relayed to OpenHands", func(t *testing.T) {
		requireSocketIOClient(t)
		runNode(t, "openhands_client.mjs", "chat", "http://"+p.addr+"/relay", ohReply)
	})
}

// TestOpenHandsBackendDrop: the connection to the OpenHands server drops
// mid-turn (a TCP relay between agentbridge and the fake server cuts it):
// agentbridge joins the conversation again with the last event id it saw,
// and the plain client (Python websockets) gets the whole reply, as it
// would without the drop, nothing twice. When the server cannot be reached
// again, the client gets backend_unavailable after a bounded number of
// attempts.
func TestOpenHandsBackendDrop(t *testing.T) {
	t.Parallel()
	requireOpenHandsServer(t)
	server := startOpenHandsServer(t, "oh-key")
	cut := startCutter(t, server)
	p := startProxy(t, fmt.Sprintf(`version: 1
log: {level: debug, format: text}
backends:
  direct: {dialect: openhands, url: "ws://%s", conversation_id: "{name}", session_api_key: oh-key, dial_timeout: 2s, handshake_timeout: 5s}
  cut: {dialect: openhands, url: "ws://%s", conversation_id: "{name}", session_api_key: oh-key, dial_timeout: 2s, handshake_timeout: 5s}
routes:
  - {name: direct, path: /direct/:name, dialect: plain, auth: none, backend: direct}
  - {name: cut, path: /cut/:name, dialect: plain, auth: none, backend: cut}
`, server, cut.addr))

	// The reply to "slow": twenty agent messages 100ms apart, then the last.
	want := askOnce(t, p.url("/direct/reference"), "slow", 0, nil)
	if !strings.Contains(want, "part 19") || !strings.Contains(want, ohReply+"slow") {
		t.Fatalf("reference reply %q", want)
	}
	t.Run("rejoined", func(t *testing.T) {
		got := askOnce(t, p.url("/cut/dropped"), "slow", 700*time.Millisecond, cut.cut)
		if got != want {
			t.Errorf("reply across the drop:\n%q\nwant, as without it:\n%q", got, want)
		}
		if cut.accepted() < 2 {
			t.Errorf("%d connections to the server: want a second one after the drop", cut.accepted())
		}
	})
	t.Run("server gone", func(t *testing.T) {
		got := askOnce(t, p.url("/cut/gone"), "slow", 500*time.Millisecond, cut.stop)
		if !strings.Contains(got, `"backend_unavailable"`) {
			t.Errorf("with the server gone the client got %q, want the backend_unavailable error", got)
		}
	})
}

// askOnce sends text on a plain socket at url with Python's websockets and
// returns the first message back; after wait, it calls during (a cut).
func askOnce(t *testing.T, url, text string, wait time.Duration, during func()) string {
	t.Helper()
	const prog = `import asyncio, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1], open_timeout=10) as ws:
        await asyncio.sleep(0.3)  # a new conversation's agent loop starts (awaiting_user_input) first
        await ws.send(sys.argv[2])
        print(await asyncio.wait_for(ws.recv(), 20), flush=True)
asyncio.run(main())
`
	cmd := exec.Command(python, "-c", prog, url, text)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if during != nil {
		time.Sleep(300*time.Millisecond + wait)
		during()
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("python client: %v\n%s", err, out.String())
	}
	return strings.TrimSpace(out.String())
}

// cutter is a TCP relay on 127.0.0.1 to target whose connections the test
// can cut (a network drop) or stop taking (the server gone).
type cutter struct {
	addr  string
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	n     int
}

func startCutter(t *testing.T, target string) *cutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{addr: ln.Addr().String(), ln: ln}
	t.Cleanup(c.stop)
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, in, out)
			c.n++
			c.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
	return c
}

// cut closes every connection relayed so far.
func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, nc := range c.conns {
		nc.Close()
	}
	c.conns = nil
}

// stop takes no more connections and cuts those relayed.
func (c *cutter) stop() {
	c.ln.Close()
	c.cut()
}

func (c *cutter) accepted() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// TestOpenHandsClient: the real socket.io-client, as OpenHands' UI uses it,
// on openhands routes of the demo agent: the reply's events in order (the
// echo, running, think, one message with llm_metrics, awaiting_user_input)
// with increasing ids, Stop mid-reply, an action the backend cannot carry,
// and Engine.IO's pings both ways.
func TestOpenHandsClient(t *testing.T) {
	t.Parallel()
	requireSocketIOClient(t)
	p := startProxy(t, `version: 1
log: {level: debug, format: text}
backends:
  demo: {dialect: demo, demo: {pace: 5ms, thinking: true, prefix: "You said: "}}
  slow: {dialect: demo, demo: {pace: 50ms, thinking: false, prefix: "You said: "}}
routes:
  - {name: oh, path: /socket.io, dialect: openhands, auth: none, backend: demo}
  - {name: slow, path: /slow/socket.io, dialect: openhands, auth: none, backend: slow}
  - {name: ping, path: /ping/socket.io, dialect: openhands, auth: none, backend: demo, ping_interval: 200ms, ping_timeout: 300ms}
`)
	host := "http://" + p.addr
	t.Run("chat", func(t *testing.T) { runNode(t, "openhands_client.mjs", "chat", host, "You said: ") })
	t.Run("cancel", func(t *testing.T) { runNode(t, "openhands_client.mjs", "cancel", host+"/slow") })
	t.Run("unsupported action", func(t *testing.T) { runNode(t, "openhands_client.mjs", "unsupported", host) })
	t.Run("pings keep the client", func(t *testing.T) {
		// socket.io-client gives up after pingInterval+pingTimeout (500ms)
		// without a ping.
		runNode(t, "openhands_client.mjs", "alive", host+"/ping", "1500")
	})
	t.Run("no pong ends the client", func(t *testing.T) {
		runNode(t, "openhands_client.mjs", "nopong", p.url("/ping/socket.io/?EIO=4&transport=websocket&conversation_id=x"), "3000")
	})
	t.Run("no conversation_id", func(t *testing.T) {
		runNode(t, "openhands_client.mjs", "noconv", host)
	})
	// The connection drops mid-reply; socket.io-client reconnects with the
	// last event id it saw and gets the rest of the conversation.
	t.Run("resume after a drop", func(t *testing.T) {
		runNode(t, "openhands_client.mjs", "resume", host+"/slow", "You said: ")
	})
}

// TestOpenHandsClientBackends: the real socket.io-client on openhands
// routes whose backends speak Connic, Wiro and plain (Connic and Wiro are
// a second agentbridge's fronts of the demo agent; plain is the suite's
// echo server). A TCP drop mid-reply (a relay in front of agentbridge cuts
// the connection): socket.io-client reconnects by itself with the last
// latest_event_id, and gets every event once.
func TestOpenHandsClientBackends(t *testing.T) {
	t.Parallel()
	requireSocketIOClient(t)
	fronts := startProxy(t, `version: 1
log: {level: debug, format: text}
auth:
  team: {type: secret, secrets: ["s3cret"]}
  keys: {type: secret, secrets: ["wiro-key"]}
backends:
  demo: {dialect: demo, demo: {pace: 5ms, prefix: "You said: "}}
  slow: {dialect: demo, demo: {pace: 50ms, prefix: "You said: "}}
routes:
  - {path: /connic, dialect: connic, auth: [team], backend: demo}
  - {path: /connic-slow, dialect: connic, auth: [team], backend: slow}
  - {path: /v1, dialect: wiro, auth: [keys], backend: demo}
`)
	echo := startEchoBackend(t)
	p := startProxy(t, fmt.Sprintf(`version: 1
log: {level: debug, format: text}
backends:
  connic: {dialect: connic, url: "ws://%[1]s/connic", secret: s3cret, secret_in: header}
  connic-slow: {dialect: connic, url: "ws://%[1]s/connic-slow", secret: s3cret, secret_in: header}
  wiro: {dialect: wiro, api_url: "http://%[1]s/v1", socket_url: "ws://%[1]s/v1", api_key: wiro-key, useragent_guid: e2e}
  echo: {dialect: plain, url: %[2]q}
routes:
  - {name: connic, path: /connic/socket.io, dialect: openhands, auth: none, backend: connic}
  - {name: connic-slow, path: /slow/socket.io, dialect: openhands, auth: none, backend: connic-slow}
  - {name: wiro, path: /wiro/socket.io, dialect: openhands, auth: none, backend: wiro}
  - {name: plain, path: /plain/socket.io, dialect: openhands, auth: none, backend: echo}
`, fronts.addr, echo))
	host := "http://" + p.addr
	t.Run("Connic backend", func(t *testing.T) { runNode(t, "openhands_client.mjs", "reply", host+"/connic", "You said: ") })
	t.Run("Wiro backend", func(t *testing.T) { runNode(t, "openhands_client.mjs", "reply", host+"/wiro", "You said: ") })
	t.Run("plain backend", func(t *testing.T) { runNode(t, "openhands_client.mjs", "reply", host+"/plain", "echo: ") })
	t.Run("TCP drop mid-reply", func(t *testing.T) {
		cut := startCutter(t, p.addr)
		out := runCutting(t, cut, "node", "openhands_client.mjs", "dropped", "http://"+cut.addr+"/slow", "You said: ")
		if !strings.Contains(out, "ok resumed") {
			t.Errorf("client output:\n%s", out)
		}
		if cut.accepted() < 2 {
			t.Errorf("%d connections through the relay: want the client's reconnect", cut.accepted())
		}
	})
}

// runCutting runs a client that prints RUNNING when the test should cut
// cut's connections, and returns its output; it fails the test when the
// client fails.
func runCutting(t *testing.T, cut *cutter, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = clientsDir
	cmd.WaitDelay = 2 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if sc.Text() == "RUNNING" {
			cut.cut()
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	t.Logf("%s %s:\n%s", name, strings.Join(args, " "), out.String())
	return out.String()
}
