package wsconn

import (
	"encoding/binary"

	"github.com/gobwas/ws"
)

// ParseHeader parses the frame header at the start of b. It returns the
// header and its size, or n == 0 when b does not hold a whole header yet. An
// error means the header can never be valid (RFC 6455 section 5.2: the most
// significant bit of a 64-bit length must be 0).
func ParseHeader(b []byte) (h ws.Header, n int, err error) {
	if len(b) < 2 {
		return h, 0, nil
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] & 0x70) >> 4
	h.OpCode = ws.OpCode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	n = 2
	switch l := b[1] & 0x7f; l {
	case 126:
		if len(b) < 4 {
			return h, 0, nil
		}
		h.Length = int64(binary.BigEndian.Uint16(b[2:4]))
		n = 4
	case 127:
		if len(b) < 10 {
			return h, 0, nil
		}
		if b[2]&0x80 != 0 {
			return h, 0, ws.ErrHeaderLengthMSB
		}
		h.Length = int64(binary.BigEndian.Uint64(b[2:10]))
		n = 10
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		if len(b) < n+4 {
			return h, 0, nil
		}
		copy(h.Mask[:], b[n:n+4])
		n += 4
	}
	return h, n, nil
}

// AppendHeader appends h's wire form to dst.
func AppendHeader(dst []byte, h ws.Header) []byte {
	b0 := h.Rsv<<4 | byte(h.OpCode)
	if h.Fin {
		b0 |= 0x80
	}
	var m byte
	if h.Masked {
		m = 0x80
	}
	switch {
	case h.Length < 126:
		dst = append(dst, b0, m|byte(h.Length))
	case h.Length <= 0xffff:
		dst = append(dst, b0, m|126, byte(h.Length>>8), byte(h.Length))
	default:
		dst = append(dst, b0, m|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(h.Length))
	}
	if h.Masked {
		dst = append(dst, h.Mask[:]...)
	}
	return dst
}

// HeaderRoom is the room FrameAt needs before a payload: the header of an
// unmasked frame of 126 to 65535 bytes, the common size of an encoded event.
const HeaderRoom = 4

// FrameAt turns buf[start:] — HeaderRoom bytes of room, then a payload —
// into one final unmasked frame of opcode op, and returns buf. The payload
// moves only when its header is not HeaderRoom bytes long: left by two for
// a payload under 126 bytes, right by six for one of 64 KiB or more.
func FrameAt(buf []byte, start int, op ws.OpCode) []byte {
	n := len(buf) - start - HeaderRoom
	var hb [ws.MaxHeaderSize]byte
	hdr := AppendHeader(hb[:0], ws.Header{Fin: true, OpCode: op, Length: int64(n)})
	switch {
	case len(hdr) < HeaderRoom:
		copy(buf[start+len(hdr):], buf[start+HeaderRoom:])
		buf = buf[:start+len(hdr)+n]
	case len(hdr) > HeaderRoom:
		buf = append(buf, hdr[:len(hdr)-HeaderRoom]...) // grow by the difference
		copy(buf[start+len(hdr):], buf[start+HeaderRoom:start+HeaderRoom+n])
	}
	copy(buf[start:], hdr)
	return buf
}
