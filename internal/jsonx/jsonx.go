// Package jsonx holds the append-style JSON writers the dialect codecs share.
// Nothing here allocates when dst has room.
package jsonx

import (
	"strconv"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// plain marks the bytes a JSON string carries as they are: printable ASCII
// but the quote and the backslash. Everything else takes the slow path.
var plain = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// AppendString appends s to dst as a JSON string, quotes included, and
// returns dst. Control characters, quotes, backslashes, U+2028 and U+2029 are
// escaped; invalid UTF-8 becomes U+FFFD, so the output is always valid JSON.
func AppendString(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	dst = AppendEscaped(dst, s)
	return append(dst, '"')
}

// AppendEscaped appends s escaped as AppendString does, without the quotes.
// Escaping s in parts gives the same bytes as escaping it whole when each
// part after the first begins where a UTF-8 sequence may begin
// (utf8.RuneStart): a sequence cut there was invalid whole too
// (FuzzAppendEscapedParts).
func AppendEscaped(dst []byte, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Runs of plain ASCII, the common case, are skipped eight bytes at
		// a time, then a table look-up a byte.
		for i+32 <= len(s) {
			b := s[i : i+32 : i+32] // one bounds check for the four loads
			if bad8(load64(b[0:8]))|bad8(load64(b[8:16]))|bad8(load64(b[16:24]))|bad8(load64(b[24:32])) != 0 {
				break
			}
			i += 32
		}
		for i+8 <= len(s) && bad8(load64(s[i:i+8:i+8])) == 0 {
			i += 8
		}
		for i < len(s) && plain[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		b := s[i]
		if b < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// bad8 is non-zero when a byte of w (eight bytes, little-endian) is not
// plain (see plain): below 0x20, a quote, a backslash or outside ASCII.
// Each test is the classic word-at-a-time "has a byte less than n / equal
// to c" check, exact for the word as a whole; there are no branches, so a
// loop can test several words at once.
func bad8(w uint64) uint64 {
	quote := w ^ (lsb * '"')
	slash := w ^ (lsb * '\\')
	return (w | (w-lsb*0x20)&^w | (quote-lsb)&^quote | (slash-lsb)&^slash) & msb
}

func load64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// AppendStr is AppendString for a string.
func AppendStr(dst []byte, s string) []byte {
	// The conversion does not allocate: the compiler sees that the bytes
	// do not escape AppendString.
	return AppendString(dst, []byte(s))
}

// AppendInt appends n in decimal.
func AppendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

// AppendBool appends true or false.
func AppendBool(dst []byte, b bool) []byte { return strconv.AppendBool(dst, b) }

// AppendField appends `,"name":` (or `"name":` right after a '{') to dst.
// name must need no escaping.
func AppendField(dst []byte, name string) []byte {
	if n := len(dst); n > 0 && dst[n-1] != '{' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, name...)
	return append(dst, '"', ':')
}
