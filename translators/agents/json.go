package agents

import (
	"github.com/valyala/fastjson"
)

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
