package translators_test

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/agentbridge/agentbridge/translators"
)

// TestKindNames: every kind has a name of its own, and KindByName finds it.
func TestKindNames(t *testing.T) {
	seen := map[string]translators.Kind{}
	for k := translators.Kind(0); k < translators.NumKinds; k++ {
		name := k.String()
		if name == "" || strings.HasPrefix(name, "kind(") {
			t.Errorf("kind %d has no name", k)
		}
		if prev, ok := seen[name]; ok {
			t.Errorf("kinds %d and %d are both named %q", prev, k, name)
		}
		seen[name] = k
		if k != translators.KindInvalid {
			if got := translators.KindByName(name); got != k {
				t.Errorf("KindByName(%q) = %v, want %v", name, got, k)
			}
		}
	}
	if got := translators.NumKinds.String(); got != "kind(31)" {
		t.Errorf("NumKinds.String() = %q, want kind(31)", got)
	}
}

// TestEventSize keeps Event small: the Turn copies it once per event, and
// a new field should reuse an existing one when it can. Raise the bound
// only for a field no kind can share.
func TestEventSize(t *testing.T) {
	if n := unsafe.Sizeof(translators.Event{}); n > 280 {
		t.Errorf("unsafe.Sizeof(Event{}) = %d, want at most 280", n)
	}
}

func TestPassFrame(t *testing.T) {
	frame := translators.Event{Kind: translators.KindFrame, Name: []byte("agents"), Code: []byte("rpc"), Raw: []byte(`{"type":"rpc"}`)}
	tests := []struct {
		name    string
		ev      translators.Event
		dialect string
		want    string
	}{
		{"same dialect", frame, "agents", `>{"type":"rpc"}`},
		{"other dialect", frame, "connic", ">"},
		{"not a frame", translators.Event{Kind: translators.KindTextDelta, Name: []byte("agents"), Raw: []byte("x")}, "agents", ">"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(translators.PassFrame([]byte(">"), &tt.ev, tt.dialect)); got != tt.want {
				t.Errorf("PassFrame = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestUsageKnown(t *testing.T) {
	tests := []struct {
		u    translators.Usage
		want bool
	}{
		{translators.Usage{}, false},
		{translators.UnknownUsage, false},
		{translators.Usage{InputTokens: -1, OutputTokens: 5}, true},
		{translators.Usage{InputTokens: 3}, true},
	}
	for _, tt := range tests {
		if got := tt.u.Known(); got != tt.want {
			t.Errorf("%+v.Known() = %v, want %v", tt.u, got, tt.want)
		}
	}
}
