package wiro

import (
	"bytes"

	"github.com/valyala/fastjson"
)

// frameToken is REST.FrameToken: the "agenttoken" of a message from a Wiro
// backend's socket, the string value of that key of the top-level object,
// or nil. It reads the object's keys in order and skips their values
// unparsed, so routing a message costs a scan up to its token (Wiro writes
// it second, after "type") rather than a second parse of the whole message
// beside the session codec's. A token with escapes, which Wiro never
// writes, is read by a full parse. It does not validate the rest of the
// message: the codec that decodes it does.
func frameToken(frame []byte) []byte {
	i := skipSpace(frame, 0)
	if i >= len(frame) || frame[i] != '{' {
		return nil
	}
	i++
	for {
		i = skipSpace(frame, i)
		if i >= len(frame) || frame[i] != '"' {
			return nil // '}' (no token), or not JSON
		}
		end, escaped := stringEnd(frame, i)
		if end < 0 {
			return nil
		}
		key := frame[i+1 : end-1]
		i = skipSpace(frame, end)
		if i >= len(frame) || frame[i] != ':' {
			return nil
		}
		i = skipSpace(frame, i+1)
		if !escaped && string(key) == "agenttoken" {
			if i >= len(frame) || frame[i] != '"' {
				return nil // not a string: no token, as fastjson's GetStringBytes
			}
			end, escaped = stringEnd(frame, i)
			if end < 0 {
				return nil
			}
			if escaped {
				return parsedToken(frame)
			}
			return frame[i+1 : end-1]
		}
		if i = skipValue(frame, i); i < 0 {
			return nil
		}
		i = skipSpace(frame, i)
		if i >= len(frame) || frame[i] != ',' {
			return nil
		}
		i++
	}
}

// parsedToken reads the token of a message whose token has escapes.
func parsedToken(frame []byte) []byte {
	var p fastjson.Parser
	v, err := p.ParseBytes(frame)
	if err != nil {
		return nil
	}
	return v.GetStringBytes("agenttoken")
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the string that starts at b[i]
// (a '"'), or -1 when it does not end, and whether it holds escapes.
func stringEnd(b []byte, i int) (int, bool) {
	escaped := false
	i++
	for {
		j := bytes.IndexAny(b[i:], `"\`)
		if j < 0 {
			return -1, escaped
		}
		i += j
		if b[i] == '"' {
			return i + 1, escaped
		}
		escaped = true
		i += 2 // the backslash and the character it escapes
		if i > len(b) {
			return -1, escaped
		}
	}
}

// skipValue returns the index just past the value that starts at b[i], or
// -1. Objects and arrays are skipped by counting brackets outside strings.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := stringEnd(b, i)
		return end
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, _ := stringEnd(b, i)
				if end < 0 {
					return -1
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	// A number, true, false or null: up to the next delimiter.
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' &&
		b[i] != '\n' && b[i] != '\t' && b[i] != '\r' {
		i++
	}
	return i
}
