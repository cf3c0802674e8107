package proxy

import (
	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
)

// CloseError is an error that carries the decision of how to close a
// WebSocket leg: the close code and a reason safe to show the peer.
type CloseError = wsconn.CloseError

// The closes the proxy decides itself. See the close-code table in doc.go.
var (
	closeNormal       = &CloseError{Code: ws.StatusNormalClosure}
	closeGoingAway    = &CloseError{Code: ws.StatusGoingAway, Reason: "server shutting down"}
	closeProtocol     = wsconn.CloseProtocol
	closeBadUTF8      = wsconn.CloseBadUTF8
	closeTooBig       = wsconn.CloseTooBig
	closeBackendGone  = &CloseError{Code: 1014, Reason: "backend unavailable"}
	closeIdle         = &CloseError{Code: ws.StatusPolicyViolation, Reason: "session timed out"}
	closeUnsupported  = &CloseError{Code: ws.StatusUnsupportedData, Reason: "binary messages not supported"}
	closeTooManyMsgs  = &CloseError{Code: ws.StatusPolicyViolation, Reason: "message limit reached"}
	closePeerVanished = &CloseError{Code: ws.StatusAbnormalClosure} // never sent: the peer is gone
	closeRateLimited  = &CloseError{Code: ws.StatusPolicyViolation, Reason: "message rate limit exceeded"}
)

// closeGrace is how long a leg that was sent a close frame may take to
// answer with its own before the socket is closed.
const closeGrace = wsconn.CloseGrace

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
