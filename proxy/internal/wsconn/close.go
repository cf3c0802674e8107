package wsconn

import (
	"strconv"

	"github.com/gobwas/ws"
)

// CloseError is an error that carries the decision of how to close a
// WebSocket leg: the close code and a reason safe to show the peer.
type CloseError struct {
	Code   ws.StatusCode
	Reason string // at most 123 bytes; never a secret or an internal detail
}

func (e *CloseError) Error() string {
	return "close " + strconv.Itoa(int(e.Code)) + ": " + e.Reason
}

// The closes a connection decides itself, for what its peer sent. The
// proxy's close-code table is in proxy/doc.go.
var (
	CloseProtocol = &CloseError{ws.StatusProtocolError, "protocol error"}
	CloseBadUTF8  = &CloseError{ws.StatusInvalidFramePayloadData, "invalid utf-8"}
	CloseTooBig   = &CloseError{ws.StatusMessageTooBig, "message too big"}
	CloseFlood    = &CloseError{ws.StatusPolicyViolation, "too many control frames"}
)

// PeerClosed is returned by ReadMessage (and HandleControl) when the peer
// sent a close frame. Code is what it sent (1005 when it sent none).
type PeerClosed struct {
	Code   ws.StatusCode
	Reason string
}

func (e *PeerClosed) Error() string { return "peer closed" }

// Violation reports whether code closes for a protocol violation (1002,
// 1007): the connection is failed rather than closed (SendClose).
func Violation(code ws.StatusCode) bool {
	return code == ws.StatusProtocolError || code == ws.StatusInvalidFramePayloadData
}
