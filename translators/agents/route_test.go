package agents

import "testing"

func TestRouteAgent(t *testing.T) {
	for pattern, want := range map[string]string{
		"/agents/:agent/:name":       "",
		"/agents/fixed-agent/:name":  "fixed-agent",
		"/v2/agents/helper/:name":    "helper",
		"/chat":                      "",
		"/agents/":                   "",
		"/agents/support/room/extra": "support",
	} {
		if got := routeAgent(pattern); got != want {
			t.Errorf("routeAgent(%q) = %q, want %q", pattern, got, want)
		}
	}
}
