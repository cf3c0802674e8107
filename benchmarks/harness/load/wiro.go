package main

// Wiro mode (-mode wiro): the client flow of Wiro's Agent WebSocket
// document. Each connection is one subscription socket (the -url) and one
// session key; each request is a REST send, POST <url's path>/UserAgent/
// Message/Send over HTTP to the same host with -key as x-api-key, whose
// answer names an agenttoken, then {"type":"agent_info","agenttoken"} on the
// socket and the events up to agent_end. The text is accumulated: every
// agent_output and the agent_end carry the whole text so far, which must
// start with this request's first chunk "<id>:0:" (the end also holds the
// last, "<id>:<k-1>:"). A reply that ended before the subscription arrives
// as agent_subscribed with status agent_end and the whole text in
// debugoutput, and ends there. One request in flight per connection.

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/agentbridge/agentbridge/benchmarks/harness/internal/bench"
)

// wiroAPI turns the socket URL into the REST base URL (same host and path).
func wiroAPI(wsURL string) (string, error) {
	if err := bench.CheckLoopback(wsURL); err != nil {
		return "", err
	}
	rest, ok := strings.CutPrefix(wsURL, "ws://")
	if !ok {
		return "", fmt.Errorf("%s: wiro mode wants a ws:// URL", wsURL)
	}
	return "http://" + strings.TrimSuffix(rest, "/"), nil
}

var wiroHTTP = &http.Client{Timeout: 15 * time.Second}

var (
	wiroSubscribed = []byte(`"type":"agent_subscribed"`)
	wiroStart      = []byte(`"type":"agent_start"`)
	wiroOutput     = []byte(`"type":"agent_output"`)
	wiroEnd        = []byte(`"type":"agent_end"`)
	wiroRaw        = []byte(`"raw":"`)
	wiroDebug      = []byte(`"debugoutput":"`)
)

// wiroOnce sends one request of p's id and reads its reply; idx names the
// connection's session key.
func (w *worker) wiroOnce(c *bench.Conn, cfg config, idx int, p *pending) error {
	body := append([]byte(`{"useragentguid":"bench","sessionkey":"c`), strconv.Itoa(idx)...)
	body = append(body, `","message":"`...)
	body = append(w.request(body, cfg, p.id), `"}`...)
	p.sent = time.Now()
	req, err := http.NewRequest(http.MethodPost, cfg.api+"/UserAgent/Message/Send", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", cfg.key)
	resp, err := wiroHTTP.Do(req)
	if err != nil {
		return err
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err != nil {
		return err
	}
	token := bench.JSONString(answer, `"agenttoken":"`)
	if resp.StatusCode != http.StatusOK || len(token) == 0 {
		return fmt.Errorf("send: HTTP %d: %.200s", resp.StatusCode, answer)
	}
	sub := append(append([]byte(`{"type":"agent_info","agenttoken":"`), token...), `"}`...)
	if err := c.WriteText(sub); err != nil {
		return err
	}
	var keyBuf [80]byte
	key := append(append(append(keyBuf[:0], `"agenttoken":"`...), token...), '"')
	first, last := w.wiroMarks(cfg, p.id)
	outputs, mismatch := 0, false
	for {
		m, err := c.ReadMessage()
		if err != nil {
			return err
		}
		w.recv++
		if !bytes.Contains(m, key) {
			mismatch = true
		}
		switch {
		case bytes.Contains(m, wiroOutput):
			if !textStarts(m, wiroRaw, first) {
				mismatch = true
			}
			w.chunk(cfg, p, outputs)
			outputs++
		case bytes.Contains(m, wiroEnd):
			if !textStarts(m, wiroRaw, first) || !bytes.Contains(m, last) {
				mismatch = true
			}
			if outputs == 0 {
				w.first = append(w.first, time.Since(p.sent))
			}
			return w.finish(p, int64(cfg.k)+1, mismatch)
		case bytes.Contains(m, wiroSubscribed):
			switch status := string(bench.JSONString(m, `"status":"`)); status {
			case "agent_end":
				// Over before the subscription: the whole text, and no
				// more events.
				if !textStarts(m, wiroDebug, first) || !bytes.Contains(m, last) {
					mismatch = true
				}
				w.first = append(w.first, time.Since(p.sent))
				return w.finish(p, int64(cfg.k)+1, mismatch)
			case "agent_error", "agent_cancel", "unknown":
				return fmt.Errorf("subscribed with status %s: %.200s", status, m)
			}
		case bytes.Contains(m, wiroStart):
		default:
			return fmt.Errorf("reply %s: %.200s", p.id, m)
		}
	}
}

// wiroMarks returns the text the reply to id starts with, and the one its
// last chunk starts with.
func (w *worker) wiroMarks(cfg config, id []byte) (first, last []byte) {
	k := cfg.k
	if cfg.minSize > 0 {
		first = bench.AppendChunk(nil, id, 0, bench.ChunkSize(0, cfg.minSize, cfg.size))
		last = bench.AppendChunk(nil, id, max(k-1, 0), bench.ChunkSize(max(k-1, 0), cfg.minSize, cfg.size))
		return first, last
	}
	first = append(append(append([]byte(nil), id...), ':'), "0:"...)
	last = strconv.AppendInt(append(append([]byte(nil), id...), ':'), int64(max(k-1, 0)), 10)
	return first, append(last, ':')
}

// textStarts reports whether the string value after key in m starts with
// prefix.
func textStarts(m, key, prefix []byte) bool {
	i := bytes.Index(m, key)
	return i >= 0 && bytes.HasPrefix(m[i+len(key):], prefix)
}
