package proxy

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

// The closes the proxy decides itself. See the close-code table in doc.go.
var (
	closeNormal       = &CloseError{ws.StatusNormalClosure, ""}
	closeGoingAway    = &CloseError{ws.StatusGoingAway, "server shutting down"}
	closeProtocol     = &CloseError{ws.StatusProtocolError, "protocol error"}
	closeBadUTF8      = &CloseError{ws.StatusInvalidFramePayloadData, "invalid utf-8"}
	closeTooBig       = &CloseError{ws.StatusMessageTooBig, "message too big"}
	closeBackendGone  = &CloseError{1014, "backend unavailable"}
	closeIdle         = &CloseError{ws.StatusPolicyViolation, "session timed out"}
	closeUnsupported  = &CloseError{ws.StatusUnsupportedData, "binary messages not supported"}
	closeTooManyMsgs  = &CloseError{ws.StatusPolicyViolation, "message limit reached"}
	closePeerVanished = &CloseError{ws.StatusAbnormalClosure, ""} // never sent: the peer is gone
)

// passCode returns the code to pass on when a peer closed with code: codes a
// peer may not send on the wire (1005, 1006, 1015) become 1000 or 1014.
func passCode(code ws.StatusCode) ws.StatusCode {
	switch code {
	case ws.StatusNoStatusRcvd, 0:
		return ws.StatusNormalClosure
	case ws.StatusAbnormalClosure, ws.StatusTLSHandshake:
		return 1014
	}
	return code
}
