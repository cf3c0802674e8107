package redact

import "testing"

func TestURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ws://127.0.0.1:9003/agents/x", "ws://127.0.0.1:9003/agents/x"},
		{"ws://h/ws?token=T&v=2", "ws://h/ws?token=REDACTED&v=REDACTED"},
		{"ws://u:pw@h:1/p?t=1", "ws://REDACTED@h:1/p?t=REDACTED"},
		{"ws://tok@h", "ws://REDACTED@h"},
		{"http://h/p?BARETOKEN", "http://h/p?REDACTED"},
		{"https://h/cb#access_token=T", "https://h/cb#REDACTED"},
		{"ws://u:p@h/%zz?token=T&", "ws://REDACTED@h/%zz?token=REDACTED&"},
		{"ws://h/a@b", "ws://h/a@b"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := URL(tt.in); got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
