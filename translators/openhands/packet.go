package openhands

import "github.com/agentbridge/agentbridge/translators"

// Engine.IO v4 packet types: the first byte of every WebSocket message.
const (
	eioOpen    = '0'
	eioClose   = '1'
	eioPing    = '2'
	eioPong    = '3'
	eioMessage = '4'
	eioUpgrade = '5'
	eioNoop    = '6'
)

// Socket.IO v5 packet types: the byte after an Engine.IO message's '4'.
const (
	sioConnect      = '0'
	sioDisconnect   = '1'
	sioEvent        = '2'
	sioAck          = '3'
	sioConnectError = '4'
	sioBinaryEvent  = '5'
	sioBinaryAck    = '6'
)

// packet is one Engine.IO packet and, for a message, the Socket.IO packet
// it carries. Its slices alias the message it was parsed from.
type packet struct {
	eio byte // Engine.IO type
	sio byte // Socket.IO type, when eio is eioMessage
	// nsp is the namespace without its leading '/' and trailing ',';
	// empty for the default namespace "/".
	nsp []byte
	// ack is the acknowledgement id, or -1 when the packet asks none.
	ack int64
	// data is the rest: an open packet's JSON, a ping's probe text, or a
	// Socket.IO packet's JSON payload (empty when it has none).
	data []byte
}

// maxAckID bounds the acknowledgement ids the parser reads: larger ones
// are refused before they overflow.
const maxAckID = 1<<53 - 1

// parsePacket parses one WebSocket message of Engine.IO v4. An error wraps
// translators.ErrMalformed. Binary Socket.IO packets (attachments) are
// parsed but carry their placeholder JSON only: OpenHands sends none.
func parsePacket(msg []byte) (packet, error) {
	p := packet{ack: -1}
	if len(msg) == 0 {
		return p, translators.Malformed("empty Engine.IO packet")
	}
	p.eio = msg[0]
	switch p.eio {
	case eioOpen, eioClose, eioPing, eioPong, eioUpgrade, eioNoop:
		p.data = msg[1:]
		return p, nil
	case eioMessage:
	default:
		return p, translators.Malformed("unknown Engine.IO packet type")
	}
	if len(msg) < 2 {
		return p, translators.Malformed("Engine.IO message without a Socket.IO packet")
	}
	p.sio = msg[1]
	if p.sio < sioConnect || p.sio > sioBinaryAck {
		return p, translators.Malformed("unknown Socket.IO packet type")
	}
	rest := msg[2:]
	if p.sio == sioBinaryEvent || p.sio == sioBinaryAck {
		// "<attachments>-" first.
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) || rest[i] != '-' {
			return p, translators.Malformed("binary Socket.IO packet without its attachment count")
		}
		rest = rest[i+1:]
	}
	if len(rest) > 0 && rest[0] == '/' {
		i := 1
		for i < len(rest) && rest[i] != ',' {
			i++
		}
		p.nsp = rest[1:i]
		if i < len(rest) {
			i++ // the ','
		}
		rest = rest[i:]
	}
	if len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' {
		var n int64
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			if n = n*10 + int64(rest[i]-'0'); n > maxAckID {
				return p, translators.Malformed("Socket.IO ack id out of range")
			}
			i++
		}
		p.ack, rest = n, rest[i:]
	}
	p.data = rest
	return p, nil
}
