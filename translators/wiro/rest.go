package wiro

import (
	"github.com/valyala/fastjson"

	"github.com/agentbridge/agentbridge/internal/jsonx"
	"github.com/agentbridge/agentbridge/translators"
)

// rest is Wiro's REST surface: POST <prefix>/UserAgent/Message/Send and
// .../Cancel, with x-api-key.
var rest = translators.REST{
	SendPath:           "/UserAgent/Message/Send",
	CancelPath:         "/UserAgent/Message/Cancel",
	TokenName:          "agenttoken",
	ParseSend:          parseSend,
	ParseCancel:        parseCancel,
	AppendSendResult:   appendSendResult,
	AppendCancelResult: appendCancelResult,
	AppendSend:         appendSend,
	AppendCancel:       appendCancel,
	ParseSendResult:    parseSendResult,
	FrameToken:         frameToken,
}

// statusWords are Wiro's words for the reply statuses: a subscription's
// and a send's "status".
var statusWords = [...]string{
	translators.ReplyUnknown:   "unknown",
	translators.ReplyQueued:    "agent_queue",
	translators.ReplyStarted:   "agent_start",
	translators.ReplyStreaming: "agent_output",
	translators.ReplyEnded:     "agent_end",
	translators.ReplyFailed:    "agent_error",
	translators.ReplyCancelled: "agent_cancel",
}

// statusWord returns Wiro's word for s.
func statusWord(s translators.ReplyStatus) string {
	if int(s) < len(statusWords) {
		return statusWords[s]
	}
	return statusWords[translators.ReplyUnknown]
}

// statusOf returns the status Wiro's word names, or ReplyUnknown.
func statusOf(word []byte) translators.ReplyStatus {
	for s, w := range statusWords {
		if string(word) == w {
			return translators.ReplyStatus(s)
		}
	}
	return translators.ReplyUnknown
}

// parsers are the parsers of REST bodies. A call takes one and gives it
// back before it returns, so calls are safe concurrently and, once the
// pool is warm, allocate nothing; what a result holds is copied out of the
// parser's memory first (keep).
var parsers fastjson.ParserPool

// parse parses body with p; the value lives in p's memory.
func parse(p *fastjson.Parser, body []byte) (*fastjson.Value, error) {
	v, err := p.ParseBytes(body)
	if err != nil {
		return nil, translators.Malformed("invalid JSON body")
	}
	if v.Type() != fastjson.TypeObject {
		return nil, translators.Malformed("the body must be a JSON object")
	}
	return v, nil
}

// keep appends b to *buf and returns the copy (nil for nil), capped so
// that a later append to *buf cannot overwrite it.
func keep(buf *[]byte, b []byte) []byte {
	if b == nil {
		return nil
	}
	start := len(*buf)
	*buf = append(*buf, b...)
	return (*buf)[start:len(*buf):len(*buf)]
}

// stringField returns the string value of v's field name, nil when it is
// absent (an error when required), or an error when it is not a string.
func stringField(v *fastjson.Value, name string, required bool) ([]byte, error) {
	f := v.Get(name)
	if f == nil {
		if required {
			return nil, translators.Malformed(`"` + name + `" is required`)
		}
		return nil, nil
	}
	b, err := f.StringBytes()
	if err != nil {
		return nil, translators.Malformed(`"` + name + `" must be a string`)
	}
	return b, nil
}

func parseSend(buf, body []byte) (translators.SendRequest, []byte, error) {
	var r translators.SendRequest
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := parse(p, body)
	if err != nil {
		return r, buf, err
	}
	message, err := stringField(v, "message", true)
	if err != nil {
		return r, buf, err
	}
	agent, err := stringField(v, "useragentguid", false)
	if err != nil {
		return r, buf, err
	}
	key, err := stringField(v, "sessionkey", false)
	if err != nil {
		return r, buf, err
	}
	r.Message, r.Agent, r.SessionKey = keep(&buf, message), keep(&buf, agent), keep(&buf, key)
	return r, buf, nil
}

func parseCancel(body []byte) ([]byte, error) {
	var p fastjson.Parser // a cancel is rare: its token aliases this parser
	v, err := parse(&p, body)
	if err != nil {
		return nil, err
	}
	t := v.Get("agenttoken")
	if t == nil {
		return nil, translators.Malformed(`"agenttoken" is required`)
	}
	b, err := t.StringBytes()
	if err != nil || len(b) == 0 {
		return nil, translators.Malformed(`"agenttoken" must be a non-empty string`)
	}
	return b, nil
}

func appendErrors(dst []byte, errs []string) []byte {
	dst = append(dst, `"errors":[`...)
	for i, e := range errs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonx.AppendStr(dst, e)
	}
	return append(dst, ']')
}

func appendSendResult(dst []byte, r *translators.SendResult) []byte {
	dst = append(dst, `{"result":`...)
	dst = jsonx.AppendBool(dst, r.OK)
	dst = append(dst, ',')
	dst = appendErrors(dst, r.Errors)
	if r.OK {
		dst = append(dst, `,"messageguid":`...)
		dst = jsonx.AppendString(dst, r.MessageID)
		dst = append(dst, `,"agenttoken":`...)
		dst = jsonx.AppendString(dst, r.Token)
		dst = append(dst, `,"status":`...)
		dst = jsonx.AppendStr(dst, statusWord(r.Status))
	}
	return append(dst, '}')
}

func appendCancelResult(dst []byte, r *translators.SendResult) []byte {
	dst = append(dst, `{"result":`...)
	dst = jsonx.AppendBool(dst, r.OK)
	dst = append(dst, ',')
	dst = appendErrors(dst, r.Errors)
	return append(dst, '}')
}

func appendSend(dst []byte, r *translators.SendRequest) []byte {
	dst = append(dst, `{"useragentguid":`...)
	dst = jsonx.AppendString(dst, r.Agent)
	dst = append(dst, `,"message":`...)
	dst = jsonx.AppendString(dst, r.Message)
	dst = append(dst, `,"sessionkey":`...)
	dst = jsonx.AppendString(dst, r.SessionKey)
	return append(dst, '}')
}

func appendCancel(dst []byte, id []byte) []byte {
	dst = append(dst, `{"agenttoken":`...)
	dst = jsonx.AppendString(dst, id)
	return append(dst, '}')
}

func parseSendResult(buf, body []byte) (translators.SendResult, []byte, error) {
	var r translators.SendResult
	p := parsers.Get()
	defer parsers.Put(p)
	v, err := parse(p, body)
	if err != nil {
		return r, buf, err
	}
	r.OK = v.GetBool("result")
	for _, e := range v.GetArray("errors") {
		if b, err := e.StringBytes(); err == nil {
			r.Errors = append(r.Errors, string(b))
		} else {
			r.Errors = append(r.Errors, string(e.MarshalTo(nil)))
		}
	}
	r.MessageID = keep(&buf, v.GetStringBytes("messageguid"))
	r.Token = keep(&buf, v.GetStringBytes("agenttoken"))
	r.Status = statusOf(v.GetStringBytes("status"))
	if r.OK && len(r.Token) == 0 {
		return r, buf, translators.Malformed(`send succeeded without an "agenttoken"`)
	}
	return r, buf, nil
}
