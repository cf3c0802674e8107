package bench

import (
	"bytes"
	"fmt"
)

// The client side of OpenHands' Socket.IO protocol
// (docs/protocols/openhands-socketio.md), as the load and idle tools speak
// it: Engine.IO open, Socket.IO connect, oh_user_action messages.

var (
	ohConnected = []byte(`40{`)
	ohState     = []byte(`"agent_state":"awaiting_user_input"`)
)

// OpenHandsReady reads the Engine.IO open packet, connects the default
// namespace, and reads up to the connect ack and the conversation's
// initial awaiting_user_input event (in either order).
func OpenHandsReady(c *Conn) error {
	m, err := c.ReadMessage()
	if err != nil {
		return err
	}
	if len(m) == 0 || m[0] != '0' {
		return fmt.Errorf("first packet is not the Engine.IO open packet: %.120s", m)
	}
	if err := c.WriteText([]byte("40")); err != nil {
		return err
	}
	var acked, ready bool
	for !acked || !ready {
		m, err := c.ReadMessage()
		if err != nil {
			return err
		}
		switch {
		case bytes.HasPrefix(m, ohConnected):
			acked = true
		case bytes.Contains(m, ohState):
			ready = true
		case bytes.Equal(m, []byte("2")):
			if err := c.WriteText([]byte("3")); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unexpected packet before ready: %.120s", m)
		}
	}
	return nil
}

// OpenHandsMessage appends an oh_user_action message holding text (the
// request line: no quotes or backslashes in it).
func OpenHandsMessage(b, text []byte) []byte {
	b = append(b, `42["oh_user_action",{"action":"message","args":{"content":"`...)
	b = append(b, text...)
	return append(b, `"}}]`...)
}
