package translators

import "testing"

func TestReplyStatusNames(t *testing.T) {
	for s := ReplyUnknown; s < numReplyStatuses; s++ {
		if got := ReplyStatusOf(s.Code()); got != s || string(s.Code()) != s.String() {
			t.Errorf("%d: %q reads back as %v", s, s.Code(), got)
		}
	}
	if ReplyStatusOf(nil) != ReplyUnknown || ReplyStatusOf([]byte("agent_queue")) != ReplyUnknown {
		t.Error("a word that is no canonical status must read as unknown")
	}
	if ReplyStatus(200).String() != "unknown" {
		t.Error("an out-of-range status must name itself unknown")
	}
}
