package proxy

import (
	"fmt"
	"testing"
)

func TestRouterMatch(t *testing.T) {
	routes := []*Route{
		{Name: "exact", Path: "/connic/chat"},
		{Name: "agents", Path: "/agents/:agent/:name"},
		{Name: "mixed", Path: "/a/:x/b"},
		{Name: "root", Path: "/"},
	}
	r := newRouter(routes)
	tests := []struct {
		path, want, params string
	}{
		{"/connic/chat", "exact", "[]"},
		{"/connic/chat/", "exact", "[]"},
		{"/connic/chatx", "", "[]"},
		{"/agents/dialogue-agent/insight-seeker", "agents", "[{agent dialogue-agent} {name insight-seeker}]"},
		{"/agents/only-one", "", "[]"},
		{"/agents//x", "", "[]"},
		{"/agents/a/b/c", "", "[]"},
		{"/a/1/b", "mixed", "[{x 1}]"},
		{"/a/1/c", "", "[]"},
		{"/", "root", "[]"},
		{"", "", "[]"},
	}
	for _, tt := range tests {
		rt, ps := r.match([]byte(tt.path), nil)
		got := ""
		if rt != nil {
			got = rt.Name
		}
		if got != tt.want || fmt.Sprint(ps) != tt.params {
			t.Errorf("match(%q) = %q %v, want %q %s", tt.path, got, ps, tt.want, tt.params)
		}
	}
}

func FuzzRouterMatch(f *testing.F) {
	f.Add("/agents/x/y")
	f.Add("//")
	f.Add("/a/:x/b")
	r := newRouter([]*Route{{Path: "/agents/:agent/:name"}, {Path: "/v1"}, {Path: "/a/:x/b"}})
	f.Fuzz(func(t *testing.T, path string) {
		rt, ps := r.match([]byte(path), nil)
		if rt == nil && len(ps) != 0 {
			t.Fatalf("no route but params %v", ps)
		}
		for _, p := range ps {
			if p.Value == "" {
				t.Fatalf("empty parameter %q for %q", p.Name, path)
			}
		}
	})
}
