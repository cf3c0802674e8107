package proxy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/translators"
)

// TestTranscriptBounded: a conversation keeps its newest messages within
// maxTranscript, in order, and once at its bound a message is recorded
// without allocating (it is written twice a reply on the agents routes).
func TestTranscriptBounded(t *testing.T) {
	var ts transcripts
	text := []byte(strings.Repeat("x", 1000))
	for i := range 200 {
		ts.add("k", i%2 == 1, fmt.Appendf(nil, "id-%d", i), text)
	}
	tr := ts.convs["k"]
	if tr.size() > maxTranscript {
		t.Errorf("size %d over the bound %d", tr.size(), maxTranscript)
	}
	ep := translators.HTTPEndpoint{Body: func(dst []byte, msgs []translators.TranscriptMessage) []byte {
		for _, m := range msgs {
			dst = append(append(dst, m.ID...), ' ')
		}
		return dst
	}}
	ids := strings.Fields(string(ts.appendBody(nil, "k", &ep)))
	if len(ids) < 50 || ids[len(ids)-1] != "id-199" || ids[0] != fmt.Sprintf("id-%d", 200-len(ids)) {
		t.Errorf("kept %d messages %v...; want the newest, in order", len(ids), ids[:min(3, len(ids))])
	}
	id := []byte("id-x")
	if n := testing.AllocsPerRun(100, func() { ts.add("k", false, id, text) }); n != 0 {
		t.Errorf("add at the bound: %.1f allocations, want 0", n)
	}
	ts.clear("k")
	if got := string(ts.appendBody(nil, "k", &ep)); got != "" {
		t.Errorf("after clear: %q", got)
	}
}
