package wsconn

import "unicode/utf8"

// UTF8Stream validates UTF-8 text that arrives in pieces (frame payloads,
// chunks of one payload). A code point split across pieces is kept in a few
// bytes of carry. The zero value is ready; reset it at each message start.
type UTF8Stream struct {
	carry [utf8.UTFMax]byte
	n     int
}

func (s *UTF8Stream) Reset() { s.n = 0 }

// write validates p, the next piece. It reports false as soon as the text
// so far cannot be valid UTF-8.
func (s *UTF8Stream) Write(p []byte) bool {
	if s.n > 0 {
		// Complete the carried code point with bytes from p.
		need := seqLen(s.carry[0])
		for s.n < need && len(p) > 0 {
			if p[0]&0xC0 != 0x80 {
				return false
			}
			s.carry[s.n] = p[0]
			s.n++
			p = p[1:]
		}
		if s.n < need {
			return validPrefix(s.carry[:s.n])
		}
		if !utf8.Valid(s.carry[:s.n]) {
			return false
		}
		s.n = 0
	}
	// Keep an incomplete code point at the end of p as carry.
	tail := incompleteTail(p)
	if !utf8.Valid(p[:len(p)-tail]) {
		return false
	}
	s.n = copy(s.carry[:], p[len(p)-tail:])
	return tail == 0 || validPrefix(s.carry[:s.n])
}

// done reports whether the text ended on a code point boundary.
func (s *UTF8Stream) Done() bool { return s.n == 0 }

// seqLen returns the length of the UTF-8 sequence lead byte b starts, or 1
// for a byte that cannot start one (utf8.Valid then rejects it).
func seqLen(b byte) int {
	switch {
	case b&0xE0 == 0xC0:
		return 2
	case b&0xF0 == 0xE0:
		return 3
	case b&0xF8 == 0xF0:
		return 4
	}
	return 1
}

// incompleteTail returns how many bytes at the end of p form the start of a
// code point that p does not complete.
func incompleteTail(p []byte) int {
	for i := 1; i <= 3 && i <= len(p); i++ {
		b := p[len(p)-i]
		if b&0xC0 == 0x80 {
			continue // continuation byte: look further back
		}
		if seqLen(b) > i && b >= 0xC0 {
			return i
		}
		return 0
	}
	return 0
}

// validPrefix reports whether p can begin a valid UTF-8 sequence: it rejects
// overlong and out-of-range starts early (RFC 6455 section 8.1 asks to fail
// fast), so a frame cannot hide invalid text in an incomplete tail.
func validPrefix(p []byte) bool {
	if len(p) == 0 {
		return true
	}
	b0 := p[0]
	if b0 < 0xC2 || b0 > 0xF4 {
		return false
	}
	if len(p) < 2 {
		return true
	}
	b1 := p[1]
	switch {
	case b0 == 0xE0 && b1 < 0xA0, b0 == 0xED && b1 > 0x9F,
		b0 == 0xF0 && b1 < 0x90, b0 == 0xF4 && b1 > 0x8F:
		return false
	}
	for _, b := range p[1:] {
		if b&0xC0 != 0x80 {
			return false
		}
	}
	return true
}

func validUTF8(p []byte) bool { return utf8.Valid(p) }
