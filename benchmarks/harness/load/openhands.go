package main

// OpenHands mode (-mode openhands): OpenHands' Socket.IO protocol
// (docs/protocols/openhands-socketio.md). On connect: the Engine.IO open
// packet, the client's 40, the ack and the initial awaiting_user_input.
// Each request is an oh_user_action message whose content is the request
// line; its reply is the user's message echoed, running, one agent
// message holding the whole reply (OpenHands does not stream: the chunks
// the backend sent, "<id>:<seq>:…" each, joined), then awaiting_user_input,
// which ends it. As in the other modes, frames count as the backend emitted
// them, k+1 a reply; FramesRecv counts every packet received. The time to
// the first frame is the time to the agent's message. One request at a
// time per connection (no -depth): OpenHands' events carry no request id.

import (
	"bytes"
	"fmt"
	"time"

	"github.com/agentbridge/agentbridge/benchmarks/harness/internal/bench"
)

var (
	ohEvent      = []byte(`42["oh_event",`)
	ohAgentMsg   = []byte(`"source":"agent","message":`)
	ohActionMsg  = []byte(`"action":"message"`)
	ohAwaiting   = []byte(`"agent_state":"awaiting_user_input"`)
	ohErrorState = []byte(`"agent_state":"error"`)
)

// openHandsReply reads the reply to p, up to awaiting_user_input.
func (w *worker) openHandsReply(c *bench.Conn, cfg config, p *pending) error {
	got, mismatch := false, false
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
		if !bytes.HasPrefix(m, ohEvent) {
			continue // a ping ("2"): the proxy's, answered by the next write or ignored in a short run
		}
		switch {
		case bytes.Contains(m, ohErrorState):
			return fmt.Errorf("reply %s: %.200s", p.id, m)
		case bytes.Contains(m, ohAgentMsg) && bytes.Contains(m, ohActionMsg):
			got = true
			w.first = append(w.first, time.Since(p.sent))
			if !cfg.echo && bytes.Count(m, append(append([]byte(nil), p.id...), ':')) < want {
				mismatch = true
			}
		case bytes.Contains(m, ohAwaiting):
			if !got {
				return fmt.Errorf("reply %s: awaiting_user_input before the agent's message", p.id)
			}
			return w.finish(p, int64(want)+1, mismatch)
		}
	}
}
