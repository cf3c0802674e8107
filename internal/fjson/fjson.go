// Package fjson writes values parsed by valyala/fastjson back out as JSON,
// for the codecs that pass a client's JSON on (Connic's context, the
// Agents SDK's tool inputs and state).
package fjson

import (
	"github.com/valyala/fastjson"

	"github.com/agentbridge/agentbridge/internal/jsonx"
)

// AppendValue appends v as JSON. Strings and keys are escaped by jsonx:
// fastjson's own MarshalTo quotes the strings it has unescaped with Go's
// rules (\x01, \a, \U000e0001), which are not JSON. Numbers are copied as
// written, so v must come from strict JSON.
func AppendValue(dst []byte, v *fastjson.Value) []byte {
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
			dst = AppendValue(dst, v)
		})
		return append(dst, '}')
	case fastjson.TypeArray:
		a, _ := v.Array()
		dst = append(dst, '[')
		for i, e := range a {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendValue(dst, e)
		}
		return append(dst, ']')
	}
	return v.MarshalTo(dst) // a number, true, false or null
}
