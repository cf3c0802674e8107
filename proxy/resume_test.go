package proxy

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/demo"
	"github.com/agentbridge/agentbridge/translators/openhands"
)

// ohEvent is what the tests read of an oh_event.
type ohEvent struct {
	ID          int64  `json:"id"`
	Source      string `json:"source"`
	Message     string `json:"message"`
	Action      string `json:"action"`
	Observation string `json:"observation"`
	Extras      struct {
		AgentState string `json:"agent_state"`
	} `json:"extras"`
}

// ohClient speaks Engine.IO / Socket.IO to the proxy as OpenHands' UI does.
type ohClient struct{ *client }

// dialOH connects to the conversation conv, after the event after (-1:
// none), and completes the Socket.IO connect.
func dialOH(t *testing.T, addr, conv string, after int64) ohClient {
	t.Helper()
	q := "/socket.io/?EIO=4&transport=websocket&conversation_id=" + conv
	if after != -2 {
		q += "&latest_event_id=" + itoa(after)
	}
	c := ohClient{dial(t, wsURL(addr, q))}
	if m := c.recv(); !strings.HasPrefix(m, "0{") {
		t.Fatalf("first packet %q, want the Engine.IO open packet", m)
	}
	c.send("40")
	return c
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// event reads packets until an oh_event and returns it.
func (c ohClient) event() ohEvent {
	c.t.Helper()
	for {
		m := c.recv()
		if !strings.HasPrefix(m, `42["oh_event",`) {
			continue // the connect ack, pings
		}
		var ev ohEvent
		if err := json.Unmarshal([]byte(m[len(`42["oh_event",`):len(m)-1]), &ev); err != nil {
			c.t.Fatalf("oh_event %q: %v", m, err)
		}
		return ev
	}
}

func (c ohClient) say(text string) {
	b, _ := json.Marshal(text)
	c.send(`42["oh_user_action",{"action":"message","args":{"content":` + string(b) + `}}]`)
}

func ohRoute(window time.Duration) *Route {
	rt := &Route{Name: "oh", Path: "/socket.io", Client: openhands.Dialect, Backend: demoBackend(demo.Agent{Pace: 20 * time.Millisecond})}
	rt.Session.ResumeWindow, rt.Session.ResumeEvents, rt.Session.ResumeBytes = window, 1000, 1<<20
	return rt
}

// TestOpenHandsResume: a client that drops mid-reply and reconnects with
// latest_event_id=N gets every event after N and then the live ones, with
// no gap and no duplicate: the reply it missed, whole. A client that
// reconnects with -1 gets every event kept, with only the last
// agent_state_changed, after the others. The conversation's ids go on
// across sockets.
func TestOpenHandsResume(t *testing.T) {
	_, addr := startProxy(t, Config{Routes: []*Route{ohRoute(5 * time.Second)}})
	c1 := dialOH(t, addr, "conv-1", -1)
	if ev := c1.event(); ev.ID != 1 || ev.Extras.AgentState != "awaiting_user_input" {
		t.Fatalf("first event %+v", ev)
	}
	const text = "one two three four five six seven eight nine ten"
	c1.say(text)
	var last int64
	for {
		ev := c1.event()
		last = ev.ID
		if ev.Extras.AgentState == "running" {
			break
		}
	}
	c1.nc.Close() // mid-reply: the reply is being made (a word every 20ms)

	c2 := dialOH(t, addr, "conv-1", last)
	var got []ohEvent
	for {
		ev := c2.event()
		got = append(got, ev)
		if ev.Extras.AgentState == "awaiting_user_input" {
			break
		}
	}
	if len(got) != 2 || got[0].ID != last+1 || got[0].Action != "message" || got[0].Message != "You said: "+text || got[1].ID != last+2 {
		t.Fatalf("after %d the new socket got %+v, want the reply whole (id %d), then awaiting_user_input", last, got, last+1)
	}

	// Live on the new socket, ids going on.
	c2.say("again")
	if ev := c2.event(); ev.Source != "user" || ev.ID != last+3 {
		t.Fatalf("the echo of the next message %+v, want id %d", ev, last+3)
	}
	for ev := c2.event(); ev.Extras.AgentState != "awaiting_user_input"; ev = c2.event() {
	}
	c2.nc.Close()

	// Everything from the start: the events in order, one agent state, last.
	c3 := dialOH(t, addr, "conv-1", -1)
	var ids []int64
	var states []string
	for {
		ev := c3.event()
		ids = append(ids, ev.ID)
		if ev.Observation == "agent_state_changed" {
			states = append(states, ev.Extras.AgentState)
			break
		}
	}
	if len(states) != 1 || states[0] != "awaiting_user_input" {
		t.Fatalf("replayed states %v", states)
	}
	for i := 1; i < len(ids)-1; i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("replayed ids %v: want increasing", ids)
		}
	}
}

// TestOpenHandsResumeWindow: past session.resume_window without a client
// the conversation ends (its backend leg closed): a socket naming it then
// starts afresh, ids from 1. A conversation is never resumed on another.
func TestOpenHandsResumeWindow(t *testing.T) {
	srv, addr := startProxy(t, Config{Routes: []*Route{ohRoute(200 * time.Millisecond)}})
	c1 := dialOH(t, addr, "conv-w", -1)
	c1.event()
	c1.say("hi")
	for ev := c1.event(); ev.Extras.AgentState != "awaiting_user_input"; ev = c1.event() {
	}
	c1.nc.Close()

	other := dialOH(t, addr, "conv-other", 3)
	if ev := other.event(); ev.ID != 1 {
		t.Fatalf("another conversation's first event %+v, want a new one (id 1)", ev)
	}
	other.nc.Close()

	deadline := time.Now().Add(3 * time.Second)
	for srv.Sessions() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := srv.Sessions(); n != 0 {
		t.Fatalf("%d sessions left after the resume window", n)
	}
	c2 := dialOH(t, addr, "conv-w", 4)
	if ev := c2.event(); ev.ID != 1 {
		t.Fatalf("first event after the window %+v, want a new conversation (id 1)", ev)
	}
}

func TestSetQuery(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"ws://h/socket.io/?latest_event_id=-1&conversation_id=c&EIO=4", "ws://h/socket.io/?latest_event_id=12&conversation_id=c&EIO=4"},
		{"ws://h/socket.io/?EIO=4", "ws://h/socket.io/?EIO=4&latest_event_id=12"},
		{"ws://h/socket.io/", "ws://h/socket.io/?latest_event_id=12"},
		{"ws://h/x?a=1#f", "ws://h/x?a=1&latest_event_id=12#f"},
	} {
		if got := setQuery(tt.in, "latest_event_id", "12"); got != tt.want {
			t.Errorf("setQuery(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestEventLog: the log keeps between half its bounds and its bounds, the
// newest events, and replays those after an id in order, of the collapsed
// kind only the last, after the others.
func TestEventLog(t *testing.T) {
	frame := func(s string) []byte { return append([]byte{0x81, byte(len(s))}, s...) }
	var l eventLog
	for i := int64(1); i <= 10; i++ {
		msg := "e" + itoa(i)
		if i%3 == 0 {
			msg = "state" + itoa(i)
		}
		l.add(i, frame(msg), 6, 1<<20)
	}
	payloads := func(b []byte) []string {
		var out []string
		for len(b) > 0 {
			n := int(b[1])
			out = append(out, string(b[2:2+n]))
			b = b[2+n:]
		}
		return out
	}
	isState := func(m []byte) bool { return strings.HasPrefix(string(m), "state") }
	all := payloads(l.appendAfter(nil, -1, nil))
	if len(all) < 3 || len(all) > 6 || all[len(all)-1] != "e10" {
		t.Fatalf("kept %v: want the newest 3 to 6 events", all)
	}
	if got := strings.Join(payloads(l.appendAfter(nil, 7, isState)), " "); got != "e8 e10 state9" {
		t.Fatalf("after 7, states collapsed last: %q, want %q", got, "e8 e10 state9")
	}
	var b eventLog
	for i := int64(1); i <= 100; i++ {
		b.add(i, frame("xxxxxxxxxx"), 1000, 100)
	}
	if n := len(b.appendAfter(nil, -1, nil)); n < 50 || n > 100 {
		t.Fatalf("kept %d bytes with a bound of 100", n)
	}
}
