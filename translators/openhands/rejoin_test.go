package openhands_test

import (
	"testing"

	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/openhands"
)

// TestRejoin: a backend codec made for a leg that joins its conversation
// again (latest_event_id, and the proxy's pending replies and the reply's
// text so far) decodes the server's replay after that id as the rest of
// the turn in progress: the next message after a separator, the turn's
// end, and no turn start for the replayed running state.
func TestRejoin(t *testing.T) {
	tests := []struct {
		name     string
		params   []translators.Param
		want     string // kinds and texts decoded after the connect ack
		resumeID int64
	}{
		{"mid-reply", []translators.Param{{Name: "latest_event_id", Value: "7"}, {Name: translators.PendingParam, Value: "1"},
			{Name: translators.TurnTextParam, Value: "6"}}, "text_delta:\n\npart 4 turn_end:", 9},
		{"before any text", []translators.Param{{Name: "latest_event_id", Value: "7"}, {Name: translators.PendingParam, Value: "1"},
			{Name: translators.TurnTextParam, Value: "0"}}, "text_delta:part 4 turn_end:", 9},
		{"no turn of ours", []translators.Param{{Name: "latest_event_id", Value: "7"}}, "frame: frame:", 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := openhands.Dialect.New(translators.Options{Role: translators.Backend, Params: tt.params})
			var got []string
			for _, m := range []string{
				`0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000}`,
				`42["oh_event",{"id":8,"source":"agent","message":"part 4","action":"message","args":{"content":"part 4"}}]`,
				`40{"sid":"y"}`,
				`42["oh_event",{"id":9,"source":"agent","message":"","observation":"agent_state_changed","content":"","extras":{"agent_state":"awaiting_user_input","reason":""}}]`,
			} {
				evs, err := c.Decode(nil, []byte(m))
				if err != nil {
					t.Fatalf("Decode(%s): %v", m, err)
				}
				for _, ev := range evs {
					switch ev.Kind {
					case translators.KindReply, translators.KindReady:
					default:
						got = append(got, ev.Kind.String()+":"+string(ev.Text))
					}
				}
			}
			if s := join(got); s != tt.want {
				t.Errorf("decoded %q, want %q", s, tt.want)
			}
			if id := c.(translators.Rejoiner).LatestEventID(); id != tt.resumeID {
				t.Errorf("LatestEventID() = %d, want %d", id, tt.resumeID)
			}
		})
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}
