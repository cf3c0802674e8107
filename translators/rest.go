package translators

// REST describes a dialect whose clients send user messages with REST calls
// and read the replies by subscribing on the socket (Wiro). The proxy serves
// SendPath and CancelPath under the route's path and calls these pure
// functions for the bodies; as a backend's client it calls the Append*
// request builders and the Parse*Result readers.
type REST struct {
	// SendPath and CancelPath follow the route's path
	// ("/UserAgent/Message/Send").
	SendPath, CancelPath string

	// ParseSend reads a send request body. Its slices alias body.
	ParseSend func(body []byte) (SendRequest, error)
	// ParseCancel reads a cancel request body and returns the reply's id.
	ParseCancel func(body []byte) ([]byte, error)
	// AppendSendResult appends a send response body.
	AppendSendResult func(dst []byte, r *SendResult) []byte
	// AppendCancelResult appends a cancel response body.
	AppendCancelResult func(dst []byte, r *SendResult) []byte

	// AppendSend appends a send request body (the proxy as a client).
	AppendSend func(dst []byte, r *SendRequest) []byte
	// AppendCancel appends a cancel request body for the reply id.
	AppendCancel func(dst []byte, id []byte) []byte
	// ParseSendResult reads a send response body. Its slices alias body.
	ParseSendResult func(body []byte) (SendResult, error)
}

// SendRequest is one user message sent over REST.
type SendRequest struct {
	Agent      []byte // the agent addressed (Wiro's useragentguid)
	Message    []byte
	SessionKey []byte // keeps a conversation: same key, same backend conversation
}

// SendResult answers a REST call.
type SendResult struct {
	OK        bool
	Errors    []string
	MessageID []byte // Wiro's messageguid
	Token     []byte // the reply's id, to subscribe with (Wiro's agenttoken)
	Status    []byte // the reply's status (agent_queue, ...)
}
