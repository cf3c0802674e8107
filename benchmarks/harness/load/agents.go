package main

// Agents mode (-mode agents): the chat protocol of the Cloudflare Agents
// SDK (useAgentChat ↔ AIChatAgent, docs/protocols/cloudflare-agents.md
// §3). On connect the route sends cf_agent_identity and
// cf_agent_mcp_servers; the connection is ready when both have arrived.
// Each request is a cf_agent_use_chat_request whose init.body is a JSON
// string holding one user UIMessage with the request text; its reply is
// cf_agent_use_chat_response frames carrying the request's id: start,
// text-start, one text-delta per chunk ("<id>:<seq>:…", the delta checked
// like a plain chunk), text-end, finish, then the done:true frame that
// ends it. As in the other modes, frames count as the backend emitted them:
// the k text-deltas and the end (done:true), k+1 a reply; FramesRecv counts
// every frame received. Pipelining (-depth) works as in Connic mode: the
// replies come back in order, each frame naming its request.

import (
	"bytes"
	"fmt"

	"github.com/agentbridge/agentbridge/benchmarks/harness/internal/bench"
)

var (
	agResponse = []byte(`"type":"cf_agent_use_chat_response"`)
	agDone     = []byte(`"done":true`)
	agError    = []byte(`"error":true`)
	agOutcome  = []byte(`"outcome":"`)
	// Inside body, a JSON string: the chunk's own quotes are escaped.
	agTextDelta = []byte(`\"type\":\"text-delta\"`)
	agDelta     = []byte(`\"delta\":\"`)
)

// agentsReply reads the reply to p, up to its done:true frame.
func (w *worker) agentsReply(c *bench.Conn, cfg config, p *pending) error {
	deltas, mismatch := 0, false
	var idKey [64]byte
	key := append(append(append(idKey[:0], `"id":"`...), p.id...), '"')
	want := cfg.k
	if cfg.echo {
		want = 1
	}
	for {
		m, err := c.ReadMessage()
		if err != nil {
			return err
		}
		w.recv++
		if !bytes.Contains(m, agResponse) {
			return fmt.Errorf("reply %s: unexpected frame %.200s", p.id, m)
		}
		if !bytes.Contains(m, key) {
			mismatch = true
		}
		switch {
		case bytes.Contains(m, agError):
			return fmt.Errorf("reply %s: error frame %.200s", p.id, m)
		case bytes.Contains(m, agDone):
			if i := bytes.Index(m, agOutcome); i >= 0 && !bytes.HasPrefix(m[i+len(agOutcome):], []byte(`completed"`)) {
				return fmt.Errorf("reply %s: %.200s", p.id, m)
			}
			if deltas != want {
				return fmt.Errorf("reply %s: %d text-delta frames, want %d", p.id, deltas, want)
			}
			return w.finish(p, int64(want)+1, mismatch)
		case bytes.Contains(m, agTextDelta):
			i := bytes.Index(m, agDelta)
			if i < 0 {
				mismatch = true
			} else if d := m[i+len(agDelta):]; cfg.echo && !echoOf(d, p.id) || !cfg.echo && !w.chunkOK(cfg, d, p.id, deltas) {
				mismatch = true
			}
			w.chunk(cfg, p, deltas)
			deltas++
		}
		// start, text-start, text-end, finish: part of the reply, not counted.
	}
}
