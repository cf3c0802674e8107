package e2e

// The agents dialect's backend side against the real thing: an AIChatAgent
// (@cloudflare/ai-chat on the agents SDK) in a Worker that workerd runs
// locally through Miniflare (e2e/worker), its model the AI SDK's mock
// language model. agentbridge relays plain, Connic, Wiro and Agents SDK
// clients to it.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// workerReply is what e2e/worker's mock model puts before the last user
	// message's text (src/worker.js REPLY_PREFIX).
	workerReply = "Worker heard: "
	// workerStartTimeout bounds the bundle build and Miniflare's start of
	// workerd (a few seconds on an idle machine; the e2e suite runs its
	// tests in parallel on 2 cores).
	workerStartTimeout = 90 * time.Second
)

var (
	workerBuild    sync.Once
	workerBuildErr error
	workerBuildOut []byte
)

// workerDir is the absolute path of e2e/worker.
func workerDir() string { return filepath.Join(filepath.Dir(clientsDir), "worker") }

// requireWorker: node, and e2e/worker's npm packages with workerd's binary
// (missing fails under CI and skips elsewhere, like the other clients).
func requireWorker(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		missing(t, "node not found on PATH")
	}
	for _, f := range []string{
		"miniflare/package.json", "esbuild/package.json", "agents/package.json",
		"@cloudflare/ai-chat/package.json", "ai/package.json", "@cloudflare/workerd-linux-64/bin/workerd",
	} {
		if _, err := os.Stat(filepath.Join(workerDir(), "node_modules", f)); err != nil {
			missing(t, "e2e/worker/node_modules/"+f+" is missing (e2e/worker/install.sh)")
		}
	}
}

// buildWorker bundles src/worker.js into dist/worker.js with esbuild, once
// per test binary.
func buildWorker(t *testing.T) {
	t.Helper()
	workerBuild.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "node", "build.mjs")
		cmd.Dir = workerDir()
		workerBuildOut, workerBuildErr = cmd.CombinedOutput()
	})
	if workerBuildErr != nil {
		t.Fatalf("e2e/worker: node build.mjs: %v\n%s", workerBuildErr, workerBuildOut)
	}
}

// startWorker runs e2e/worker/serve.mjs (Miniflare and its workerd) on a
// free port of 127.0.0.1 and returns "127.0.0.1:PORT" once it serves. The
// launcher stops when its standard input closes; its process group is
// killed at the end of the test in any case, and its output logged when
// the test failed.
func startWorker(t *testing.T) string {
	t.Helper()
	buildWorker(t)
	cmd := exec.Command("node", "serve.mjs", "0")
	cmd.Dir = workerDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // workerd is Miniflare's child
	// serve.mjs disposes of Miniflare and exits when its stdin closes.
	return readyPeer{name: "e2e/worker serve.mjs", start: workerStartTimeout, exit: 10 * time.Second, mustExit: true}.run(t, cmd)
}

// workerConfig: every client dialect to the Worker's ChatAgent, through
// agents backends. The plain and agents routes name the agent instance
// from the path; the Connic and Wiro routes each have one of their own.
func workerConfig(worker string) string {
	base := "ws://" + worker + "/agents/chat-agent/"
	return fmt.Sprintf(`version: 1
log: {level: debug, format: text}
auth:
  open: {type: none}
  team: {type: secret, secrets: ["s3cret"]}
  keys: {type: secret, secrets: ["wiro-key"]}
backends:
  worker: {dialect: agents, url: %q, dial_timeout: 5s, handshake_timeout: 10s}
  worker-connic: {dialect: agents, url: %q, dial_timeout: 5s, handshake_timeout: 10s}
  worker-wiro: {dialect: agents, url: %q, dial_timeout: 5s, handshake_timeout: 10s}
routes:
  - {name: plain, path: /plain/:name, dialect: plain, auth: none, backend: worker}
  - name: plain-stream
    path: /stream/:name
    dialect: plain
    auth: none
    backend: worker
    reply: stream
    end_marker: "[END]"
  - {path: /connic, dialect: connic, auth: [team], backend: worker-connic}
  - {path: /v1, dialect: wiro, auth: [keys], backend: worker-wiro}
  - {name: agents, path: /agents/:agent/:name, dialect: agents, auth: [open], backend: worker}
`, base+"{name}", base+"connic-room", base+"wiro-room")
}

// TestAgentsBackendWorker: agentbridge's agents backend against a real
// AIChatAgent in workerd (e2e/worker), driven by a plain client, a Connic
// client, a Wiro client and the Agents SDK's own chat client; each must get
// the mock model's reply, "Worker heard: <text>", streamed word by word.
func TestAgentsBackendWorker(t *testing.T) {
	t.Parallel()
	requireAgentsDialect(t)
	requireWorker(t)
	requirePython(t)
	requireNode(t)
	worker := startWorker(t)

	// The runtime serves the Agent: its HTTP history endpoint answers with
	// an empty JSON array for a new instance, and an unknown path 404s.
	t.Run("worker serves the agent", func(t *testing.T) {
		client := &http.Client{Timeout: 20 * time.Second}
		for path, want := range map[string]int{"/agents/chat-agent/probe/get-messages": 200, "/nowhere": 404} {
			resp, err := client.Get("http://" + worker + path)
			if err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Fatalf("GET %s: %d %q, want %d", path, resp.StatusCode, body, want)
			}
			if want == 200 && strings.TrimSpace(string(body)) != "[]" {
				t.Errorf("GET %s: %q, want []", path, body)
			}
		}
	})

	p := startProxy(t, workerConfig(worker))

	t.Run("plain client, whole replies", func(t *testing.T) {
		runPython(t, "echo", p.url("/plain/plain-room"), workerReply)
	})
	t.Run("plain client, streamed replies", func(t *testing.T) {
		runPython(t, "stream", p.url("/stream/stream-room"), "[END]", workerReply)
	})
	t.Run("Connic client", func(t *testing.T) {
		runClient(t, python, "connic_client.py", "echo", p.url("/connic"), "s3cret", workerReply)
	})
	t.Run("Wiro client", func(t *testing.T) {
		runNode(t, "wiro_client.js", "reply", "http://"+p.addr+"/v1", "wiro-key", workerReply)
	})
	t.Run("Agents SDK chat client, agents to agents", func(t *testing.T) {
		const text = "héllo from useAgentChat 👋 through the proxy"
		s := runChat(t, "chat", p.addr, "chat-agent", "sdk-room", text)
		checkChatConnect(t, s, p, "chat-agent", "sdk-room")
		want := workerReply + text
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
		if turn.Deltas < 2 {
			t.Errorf("%d text-delta chunks, want the mock model's word-by-word stream", turn.Deltas)
		}
	})

	// What the Agent persisted (its SQLite history, read straight from the
	// Worker): each client's messages and the model's replies.
	for _, c := range []struct {
		name  string
		texts []string
	}{
		{"plain-room", []string{"ping through the relay", "a second one"}},
		{"stream-room", []string{"streaming replies arrive word by word", "streaming replies arrive word by word"}},
		{"connic-room", []string{"Hello!", "What is the weather like today?"}},
		{"wiro-room", []string{"hello through agentbridge to a real AIChatAgent", "and a second message on the same session"}},
		{"sdk-room", []string{"héllo from useAgentChat 👋 through the proxy"}},
	} {
		t.Run("worker history "+c.name, func(t *testing.T) {
			got := workerHistory(t, worker, c.name)
			var want []string
			for _, text := range c.texts {
				want = append(want, "user: "+text, "assistant: "+workerReply+text)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("the Agent's history of %s:\n%s\nwant:\n%s", c.name, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
	// On the agents ↔ agents relay, get-messages through the proxy is the
	// Agent's own (the proxy keeps no history for a relay).
	t.Run("get-messages through the relay", func(t *testing.T) {
		got := history(t, "http://"+p.addr+"/agents/chat-agent/sdk-room/get-messages")
		want := workerHistory(t, worker, "sdk-room")
		if len(want) == 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("through the proxy:\n%s\nfrom the Worker:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// workerHistory GETs an agent instance's persisted messages from the Worker
// (AIChatAgent's /get-messages) as "role: text" lines.
func workerHistory(t *testing.T, worker, name string) []string {
	t.Helper()
	return history(t, "http://"+worker+"/agents/chat-agent/"+name+"/get-messages")
}

// history GETs a get-messages url as "role: text" lines.
func history(t *testing.T, url string) []string {
	t.Helper()
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %q", url, resp.StatusCode, body)
	}
	var msgs []struct {
		Role  string `json:"role"`
		Parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"parts"`
	}
	if err := json.Unmarshal(body, &msgs); err != nil {
		t.Fatalf("GET %s: %v in %q", url, err, body)
	}
	var lines []string
	for _, m := range msgs {
		var text strings.Builder
		for _, p := range m.Parts {
			if p.Type == "text" {
				text.WriteString(p.Text)
			}
		}
		lines = append(lines, m.Role+": "+text.String())
	}
	t.Logf("GET %s: %s", url, body)
	return lines
}
