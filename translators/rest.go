package translators

// REST describes a dialect whose clients send user messages with REST calls
// and read the replies by subscribing on the socket (Wiro). The proxy serves
// SendPath and CancelPath under the route's path and calls these pure
// functions for the bodies; as a backend's client it calls the Append*
// request builders and the Parse*Result readers, and routes the messages of
// the backend's shared socket with FrameToken. Every function is called
// concurrently (one call per request or message) and must keep no state.
//
// The proxy knows nothing of the dialect's wire beyond this: a reply is
// named by an opaque token (SendResult.Token) and stands at a ReplyStatus,
// which the dialect's functions and client codec (KindSubscribed's Code)
// write in its own words.
type REST struct {
	// SendPath and CancelPath follow the route's path
	// ("/UserAgent/Message/Send").
	SendPath, CancelPath string
	// TokenName is what the dialect's clients call a reply's token, for
	// the proxy's error messages ("unknown or finished <TokenName>").
	// Empty means "reply token".
	TokenName string

	// ParseSend reads a send request body. The request's slices alias
	// buf: ParseSend appends their bytes to it and returns it, so that a
	// caller that passes the same buffer (emptied) to each call parses
	// without allocating. They stay valid until the caller reuses buf.
	ParseSend func(buf, body []byte) (SendRequest, []byte, error)
	// ParseCancel reads a cancel request body and returns the reply's
	// token.
	ParseCancel func(body []byte) ([]byte, error)
	// AppendSendResult appends a send response body.
	AppendSendResult func(dst []byte, r *SendResult) []byte
	// AppendCancelResult appends a cancel response body.
	AppendCancelResult func(dst []byte, r *SendResult) []byte

	// AppendSend appends a send request body (the proxy as a client).
	AppendSend func(dst []byte, r *SendRequest) []byte
	// AppendCancel appends a cancel request body for the reply's token.
	AppendCancel func(dst []byte, token []byte) []byte
	// ParseSendResult reads a send response body. Its slices alias buf,
	// as ParseSend's.
	ParseSendResult func(buf, body []byte) (SendResult, []byte, error)
	// FrameToken returns the token of the reply a message from the
	// backend's socket belongs to, or nil when it names none (or is not
	// one of the dialect's messages). The proxy's reader of the socket
	// that a backend's sessions share calls it on every message to route
	// it to its session, whose backend codec then decodes it: it should
	// read no more of frame than it needs, and not allocate. The result
	// may alias frame.
	FrameToken func(frame []byte) []byte
}

// SendRequest is one user message sent over REST.
type SendRequest struct {
	Agent      []byte // the agent addressed (a backend's AgentID)
	Message    []byte
	SessionKey []byte // keeps a conversation: same key, same backend conversation
}

// SendResult answers a REST call.
type SendResult struct {
	OK     bool
	Errors []string
	// MessageID names the user message, for dialects whose answer carries
	// an id of its own beside the reply's token; the proxy makes a UUID.
	MessageID []byte
	// Token names the reply: clients subscribe to it and cancel it.
	Token []byte
	// Status is the reply's status when sent (ReplyQueued from the proxy).
	Status ReplyStatus
}

// ReplyStatus is where a reply of a REST dialect stands. The proxy keeps it
// per reply and reports it to each new subscriber in KindSubscribed's Code
// (ReplyStatus.Code); a dialect maps it to and from its own words.
type ReplyStatus uint8

// The reply statuses, in the order a reply goes through them.
const (
	// ReplyUnknown: no such reply, or one forgotten since it ended.
	ReplyUnknown ReplyStatus = iota
	// ReplyQueued: sent, waiting for the backend to start it.
	ReplyQueued
	// ReplyStarted: the backend started it (KindTurnStart) and has
	// streamed no text yet.
	ReplyStarted
	// ReplyStreaming: text or thinking is streaming.
	ReplyStreaming
	// ReplyEnded: complete (KindTurnEnd).
	ReplyEnded
	// ReplyFailed: ended by an error (KindError).
	ReplyFailed
	// ReplyCancelled: ended by a cancellation (KindCancel).
	ReplyCancelled

	numReplyStatuses
)

var replyStatusNames = [numReplyStatuses]string{
	ReplyUnknown:   "unknown",
	ReplyQueued:    "queued",
	ReplyStarted:   "started",
	ReplyStreaming: "streaming",
	ReplyEnded:     "ended",
	ReplyFailed:    "failed",
	ReplyCancelled: "cancelled",
}

// replyStatusCodes are the names as bytes, so that Code does not allocate.
var replyStatusCodes = func() (c [numReplyStatuses][]byte) {
	for i, n := range replyStatusNames {
		c[i] = []byte(n)
	}
	return c
}()

// String returns the status's canonical name ("queued", ...).
func (s ReplyStatus) String() string {
	if s < numReplyStatuses {
		return replyStatusNames[s]
	}
	return replyStatusNames[ReplyUnknown]
}

// Code returns the status's canonical name as bytes, for Event.Code. The
// slice is shared: callers must not modify it.
func (s ReplyStatus) Code() []byte {
	if s < numReplyStatuses {
		return replyStatusCodes[s]
	}
	return replyStatusCodes[ReplyUnknown]
}

// ReplyStatusOf returns the status whose canonical name is code, or
// ReplyUnknown.
func ReplyStatusOf(code []byte) ReplyStatus {
	for i, n := range replyStatusNames {
		if string(code) == n {
			return ReplyStatus(i)
		}
	}
	return ReplyUnknown
}
