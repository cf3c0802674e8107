package openhands

import (
	"errors"
	"strconv"
	"testing"

	"github.com/agentbridge/agentbridge/translators"
)

func TestParsePacket(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{"0{\"sid\":\"s\"}", `0 "" -1 {"sid":"s"}`},
		{"2", `2 "" -1 `},
		{"3probe", `3 "" -1 probe`},
		{"40", `40 "" -1 `},
		{`40{"sid":"x"}`, `40 "" -1 {"sid":"x"}`},
		{`42["oh_event",{}]`, `42 "" -1 ["oh_event",{}]`},
		{`4212["a"]`, `42 "" 12 ["a"]`},
		{`42/admin,7["a"]`, `42 "admin" 7 ["a"]`},
		{`40/admin`, `40 "admin" -1 `},
		{`451-["a",{"_placeholder":true,"num":0}]`, `45 "" -1 ["a",{"_placeholder":true,"num":0}]`},
		{`44{"message":"m"}`, `44 "" -1 {"message":"m"}`},
		{"", "error"}, {"4", "error"}, {"49", "error"}, {"x", "error"}, {"45[]", "error"},
		{"429999999999999999999[]", "error"},
	} {
		p, err := parsePacket([]byte(tt.in))
		got := "error"
		if err == nil {
			got = string(p.eio)
			if p.eio == eioMessage {
				got += string(p.sio)
			}
			got += " " + strconv.Quote(string(p.nsp)) + " " + strconv.FormatInt(p.ack, 10) + " " + string(p.data)
		} else if !errors.Is(err, translators.ErrMalformed) {
			t.Errorf("parsePacket(%q): %v does not wrap ErrMalformed", tt.in, err)
		}
		if got != tt.want {
			t.Errorf("parsePacket(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzPacket: the Engine.IO/Socket.IO parser takes any message apart or
// refuses it with ErrMalformed; what it takes apart is the message again
// when written back in Socket.IO's encoding.
func FuzzPacket(f *testing.F) {
	for _, s := range []string{"0{}", "2", "3probe", "40", `40{"sid":"x"}`, `42["oh_event",{}]`, `4212["a"]`,
		`42/admin,7["a"]`, `451-["a"]`, "", "4", "41", "6", "44/x,{}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		p, err := parsePacket([]byte(msg))
		if err != nil {
			if !errors.Is(err, translators.ErrMalformed) {
				t.Fatalf("parsePacket(%q): %v", msg, err)
			}
			return
		}
		if p.eio != eioMessage || p.sio == sioBinaryEvent || p.sio == sioBinaryAck {
			return
		}
		out := []byte{p.eio, p.sio}
		if len(p.nsp) > 0 {
			out = append(append(append(out, '/'), p.nsp...), ',')
		}
		if p.ack >= 0 {
			out = strconv.AppendInt(out, p.ack, 10)
		}
		out = append(out, p.data...)
		// A namespace without its ',' at the end of the message, "/" (the
		// default namespace, written as nothing) and ack ids with leading
		// zeros are written back in their usual form.
		if len(p.nsp) == 0 && len(msg) > 2 && msg[2] == '/' {
			return
		}
		if string(out) != msg && string(out) != msg+"," && !hasLeadingZero(msg) {
			t.Fatalf("parsePacket(%q) written back = %q", msg, out)
		}
	})
}

// hasLeadingZero reports whether a Socket.IO packet's ack id could have
// been written with a leading zero.
func hasLeadingZero(msg string) bool {
	for i := 2; i+1 < len(msg); i++ {
		if msg[i] == '0' && msg[i+1] >= '0' && msg[i+1] <= '9' {
			return true
		}
	}
	return false
}
