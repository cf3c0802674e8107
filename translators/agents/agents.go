// Package agents is the Cloudflare Agents SDK dialect: the typed JSON
// protocol of AgentClient, useAgentChat and AIChatAgent on
// /agents/<agent>/<name> (docs/protocols/cloudflare-agents.md).
//
// Client side (the proxy is the agent). On connect the client gets
// cf_agent_identity (name and agent from the route's :name and :agent
// parameters) for KindReady, then an empty cf_agent_mcp_servers for
// KindOpen, so AgentClient's ready resolves. A message that is not one of
// the SDK's envelopes (a JSON object whose "type" is "rpc" or starts with
// "cf_agent_") is one user message, answered the way the plain dialect
// answers it: this dialect takes plain's route keys (reply, end_marker). A
// cf_agent_use_chat_request is a user message whose text is the last user
// UIMessage's text parts, joined, and whose correlation id is the request's
// id; its reply streams back as cf_agent_use_chat_response frames, each
// carrying one UIMessageChunk (start, text-*, reasoning-*, tool-*,
// start-step/finish-step, message-metadata, finish), then the terminal
// done:true frame with the request's messageIds and, when the turn did not
// complete, its outcome ("error" after an error:true frame, "aborted").
// cf_agent_chat_request_cancel is a cancel; cf_agent_tool_result a tool's
// output or error. cf_agent_stream_resume_request is a KindResume the
// proxy answers (cf_agent_stream_resuming with the reply in progress on the
// path, else cf_agent_stream_resume_none); cf_agent_stream_resume_ack is a
// KindReplay, after which the proxy writes the reply's frames so far again,
// marked by Replayed ("replay":true; seq as they were), then the
// replayComplete frame while it still streams, and the rest live. rpc and
// cf_agent_state go to a backend that speaks this dialect (KindFrame,
// KindState); any other backend has no place for them, so the codec answers
// at once (KindReply): an rpc with success:false, a state with
// cf_agent_state_error. cf_agent_chat_clear starts a new conversation
// (KindReset: the proxy opens a new backend leg; a backend of this dialect
// gets the frame before). cf_agent_chat_messages and cf_agent_tool_approval
// are frames (KindFrame) that only a backend of this dialect can act on.
// GET <path>/get-messages, the history useAgentChat loads first, is an
// HTTP endpoint the proxy answers from the conversation it keeps for the
// path (GetMessages makes the body).
//
// Backend side (the proxy is the client of an AIChatAgent). The proxy waits
// for cf_agent_identity (KindReady). A user message goes out as a
// cf_agent_use_chat_request with a new id and the conversation's messages:
// the codec keeps the user and assistant texts of the session, bounded in
// bytes (MaxHistory). The cf_agent_use_chat_response frames of our own
// requests (the server broadcasts every client's) decode into text and
// reasoning deltas, tool calls, steps and metadata; the terminal frame ends
// the turn (with finish's finishReason; the protocol reports no token
// usage, so UnknownUsage), an error:true frame or outcome "error" is an
// error, outcome "aborted" a cancel. cf_agent_state is KindState; rpc,
// cf_agent_mcp_servers and the other envelopes are frames. The backend's
// URL gets ?_pk={conn_id} (a connection id per backend socket) unless it
// names a _pk itself.
//
// A client and a backend of this dialect exchange the same frames: the
// proxy relays them untouched.
package agents

import (
	"bytes"
	"strconv"
	"strings"
	"sync"

	"github.com/agentbridge/agentbridge/internal/jsonx"
	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/plain"
)

// Name is the dialect's name in the configuration.
const Name = "agents"

// Dialect is the Agents SDK dialect's descriptor.
var Dialect = translators.Dialect{
	Name:          Name,
	Title:         "Cloudflare Agents",
	Handshake:     true,
	New:           New,
	RouteKeys:     plain.Dialect.RouteKeys,
	CheckRoute:    plain.Dialect.CheckRoute,
	ClientOptions: plain.Dialect.ClientOptions,
	Endpoint:      endpoint,
	Replayed:      Replayed,
	HTTP: []translators.HTTPEndpoint{{
		Suffix: "/get-messages", Method: "GET", ContentType: "application/json", Body: GetMessages,
	}},
}

// GetMessages appends the body of GET <path>/get-messages, the history
// useAgentChat loads first: a JSON array of UIMessages, each with one text
// part. An assistant message's id is the one its reply streamed with
// ("assistant-" and the request's id); a user message's is "user-" and
// the request's id, as the proxy does not keep the client's own.
func GetMessages(dst []byte, msgs []translators.TranscriptMessage) []byte {
	dst = append(dst, '[')
	for i, m := range msgs {
		if i > 0 {
			dst = append(dst, ',')
		}
		role := "user"
		if m.Assistant {
			role = "assistant"
		}
		id := m.ID
		if id == "" {
			id = strconv.Itoa(i) // the client gave none: unique in the array
		}
		dst = append(dst, `{"id":`...)
		dst = jsonx.AppendStr(dst, role+"-"+id)
		dst = append(dst, `,"role":"`...)
		dst = append(dst, role...)
		dst = append(dst, `","parts":[{"type":"text","text":`...)
		dst = jsonx.AppendStr(dst, m.Text)
		dst = append(dst, `}]}`...)
	}
	return append(dst, ']')
}

// MaxHistory caps the bytes of conversation history a backend-side codec
// sends with each request; the oldest messages go first.
const MaxHistory = 64 << 10

// maxInflight caps the requests a codec tracks at once; the oldest is
// forgotten first.
const maxInflight = 64

// New returns an Agents codec configured by o.
func New(o translators.Options) translators.Codec {
	if o.Role == translators.Backend {
		return newBackend(o)
	}
	return newClient(o)
}

// endpoint: the backend's socket, with a _pk of its own per connection.
func endpoint(url string, s translators.Settings) translators.Endpoint {
	if !strings.Contains(url, "?_pk=") && !strings.Contains(url, "&_pk=") {
		sep := "?"
		if strings.Contains(url, "?") {
			sep = "&"
		}
		url += sep + "_pk={" + translators.ConnIDParam + "}"
	}
	return translators.Endpoint{URL: url, Options: translators.Options{Settings: s}}
}

// inflight is a small set of pairs of ids, shared by a codec's Decode and
// Encode (which may run on two goroutines): on the client side a chat
// request's id and its user message's id, on the backend side our request's
// id and the client's correlation id. After warm-up it allocates nothing.
// Its entries grow as they are needed (one or two for most sessions), up to
// maxInflight, so that an idle session does not carry room for them all.
type inflight struct {
	mu  sync.Mutex
	n   int
	ent []pair // ent[:n] in use; ent[n:] spare, keeping their buffers
}

type pair struct{ a, b []byte }

// add records (a, b), forgetting the oldest pair when full.
func (f *inflight) add(a, b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == maxInflight {
		f.removeAt(0)
	}
	if f.n == len(f.ent) {
		f.ent = append(f.ent, pair{})
	}
	e := &f.ent[f.n]
	e.a, e.b = append(e.a[:0], a...), append(e.b[:0], b...)
	f.n++
}

// take removes the pair whose a is a, copying it into *dst; it reports
// whether there was one.
func (f *inflight) take(a []byte, dst *pair) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 0; i < f.n; i++ {
		if bytes.Equal(f.ent[i].a, a) {
			dst.a, dst.b = append(dst.a[:0], f.ent[i].a...), append(dst.b[:0], f.ent[i].b...)
			f.removeAt(i)
			return true
		}
	}
	return false
}

// findA copies into *dst the pair whose a is a; it reports whether there
// was one.
func (f *inflight) findA(a []byte, dst *pair) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 0; i < f.n; i++ {
		if bytes.Equal(f.ent[i].a, a) {
			dst.a, dst.b = append(dst.a[:0], f.ent[i].a...), append(dst.b[:0], f.ent[i].b...)
			return true
		}
	}
	return false
}

// findB copies into *dst the oldest pair whose b is b, or the oldest pair
// of all when b is empty; it reports whether there was one.
func (f *inflight) findB(b []byte, dst *pair) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 0; i < f.n; i++ {
		if len(b) == 0 || bytes.Equal(f.ent[i].b, b) {
			dst.a, dst.b = append(dst.a[:0], f.ent[i].a...), append(dst.b[:0], f.ent[i].b...)
			return true
		}
	}
	return false
}

// removeAt drops pair i, keeping the order and the buffers. mu is held.
func (f *inflight) removeAt(i int) {
	gone := f.ent[i]
	copy(f.ent[i:f.n], f.ent[i+1:f.n])
	f.n--
	f.ent[f.n] = pair{a: gone.a[:0], b: gone.b[:0]}
}

// Codes of the frames this dialect passes as KindFrame: a fixed list, so
// they can label a metric.
var (
	codeRPC            = []byte("rpc")
	codeMCPServers     = []byte("mcp_servers")
	codeStateError     = []byte("state_error")
	codeChatClear      = []byte("chat_clear")
	codeChatMessages   = []byte("chat_messages")
	codeToolApproval   = []byte("tool_approval")
	codeMessageUpdated = []byte("message_updated")
	codeStream         = []byte("stream_resume")
	codeChunk          = []byte("chunk")
	codeApp            = []byte("app")
	codeOther          = []byte("other")
	nameAgents         = []byte(Name)
)

// frameCode names the type of an envelope passed as a frame.
func frameCode(typ []byte) []byte {
	switch string(typ) {
	case "rpc":
		return codeRPC
	case "cf_agent_mcp_servers":
		return codeMCPServers
	case "cf_agent_state_error":
		return codeStateError
	case "cf_agent_chat_clear":
		return codeChatClear
	case "cf_agent_chat_messages":
		return codeChatMessages
	case "cf_agent_tool_approval":
		return codeToolApproval
	case "cf_agent_message_updated":
		return codeMessageUpdated
	case "cf_agent_stream_resuming", "cf_agent_stream_pending", "cf_agent_stream_resume_none",
		"cf_agent_stream_resume_request", "cf_agent_stream_resume_ack", "cf_agent_chat_recovering":
		return codeStream
	}
	return codeOther
}

func frame(msg, code []byte) translators.Event {
	return translators.Event{Kind: translators.KindFrame, Name: nameAgents, Code: code, Raw: msg}
}

// clip shortens an echoed value for an error message.
func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
