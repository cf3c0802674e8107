package bench

import (
	"bytes"
	"fmt"
)

// The client side of the Cloudflare Agents SDK's chat protocol
// (docs/protocols/cloudflare-agents.md §2-3), as the load and idle tools
// speak it.

var (
	agentsIdentity = []byte(`"type":"cf_agent_identity"`)
	agentsMCP      = []byte(`"type":"cf_agent_mcp_servers"`)
)

// AgentsReady reads the frames sent on connect, up to cf_agent_identity
// and cf_agent_mcp_servers.
func AgentsReady(c *Conn) error {
	var identity, mcp bool
	for !identity || !mcp {
		m, err := c.ReadMessage()
		if err != nil {
			return err
		}
		switch {
		case bytes.Contains(m, agentsIdentity):
			identity = true
		case bytes.Contains(m, agentsMCP):
			mcp = true
		default:
			return fmt.Errorf("unexpected frame before ready: %.120s", m)
		}
	}
	return nil
}

// AgentsChatRequest appends a cf_agent_use_chat_request with id whose one user
// message holds text (the request line: no quotes or backslashes in it).
func AgentsChatRequest(b, id, text []byte) []byte {
	b = append(b, `{"type":"cf_agent_use_chat_request","id":"`...)
	b = append(b, id...)
	b = append(b, `","init":{"method":"POST","body":"{\"messages\":[{\"id\":\"u-`...)
	b = append(b, id...)
	b = append(b, `\",\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"text\":\"`...)
	b = append(b, text...)
	return append(b, `\"}]}],\"trigger\":\"submit-message\"}"}}`...)
}
