package agents

import (
	"github.com/valyala/fastjson"

	"github.com/agentbridge/agentbridge/internal/jsonx"
)

// appendValue appends v as JSON. Strings and keys are escaped by jsonx:
// fastjson's own MarshalTo quotes the strings it has unescaped with Go's
// rules (\x01, \a), which are not JSON.
func appendValue(dst []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeString:
		return jsonx.AppendString(dst, v.GetStringBytes())
	case fastjson.TypeObject:
		o, _ := v.Object()
		dst = append(dst, '{')
		first := true
		o.Visit(func(k []byte, v *fastjson.Value) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = jsonx.AppendString(dst, k)
			dst = append(dst, ':')
			dst = appendValue(dst, v)
		})
		return append(dst, '}')
	case fastjson.TypeArray:
		a, _ := v.Array()
		dst = append(dst, '[')
		for i, e := range a {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, e)
		}
		return append(dst, ']')
	}
	return v.MarshalTo(dst) // a number, true, false or null
}

// appendJSON appends v, a JSON value an event carries, or null when empty.
func appendJSON(dst, v []byte) []byte {
	if len(v) == 0 {
		return append(dst, "null"...)
	}
	return append(dst, v...)
}

// envelopeType returns the "type" of msg when msg is one of the SDK's
// envelopes: a JSON object whose type is "rpc" or starts with "cf_agent_".
// Anything else (text, app JSON) gives nil. v is msg parsed by p.
func envelopeType(p *fastjson.Parser, msg []byte) (*fastjson.Value, []byte) {
	if !isObject(msg) {
		return nil, nil
	}
	v, err := p.ParseBytes(msg)
	if err != nil || v.Type() != fastjson.TypeObject {
		return nil, nil
	}
	t := v.GetStringBytes("type")
	if string(t) == "rpc" || (len(t) > 9 && string(t[:9]) == "cf_agent_") {
		return v, t
	}
	return nil, nil
}

// isObject reports whether msg, past leading white space, starts an object.
func isObject(msg []byte) bool {
	i := 0
	for i < len(msg) && (msg[i] == ' ' || msg[i] == '\t' || msg[i] == '\n' || msg[i] == '\r') {
		i++
	}
	return i < len(msg) && msg[i] == '{'
}
