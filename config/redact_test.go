package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestRedacted(t *testing.T) {
	f, err := parse("full.yaml", mustRead(t, "testdata/valid/full.yaml"), lookup)
	if err != nil {
		t.Fatal(err)
	}
	f.Backends["echo"].URL = "ws://user:hunter2@127.0.0.1:9003/"
	r := f.Redacted()
	dump := fmt.Sprintf("%+v", r)
	for _, p := range r.Auth {
		dump += fmt.Sprintf("%+v", *p)
	}
	for _, b := range r.Backends {
		dump += fmt.Sprintf("%+v", *b)
	}
	for _, secret := range []string{"team-secret", "old-$ecret", "dev-only-secret", "connic-secret", "wiro-key", "hunter2"} {
		if strings.Contains(dump, secret) {
			t.Errorf("Redacted still holds %q", secret)
		}
	}
	if r.Auth["team"].Secrets[0] != RedactedText || r.Backends["wiroapi"].APIKey != RedactedText {
		t.Errorf("secrets not replaced: %v %q", r.Auth["team"].Secrets, r.Backends["wiroapi"].APIKey)
	}
	if r.Backends["demo"].Secret != "" {
		t.Errorf("empty secret became %q", r.Backends["demo"].Secret)
	}
	// The original is untouched.
	if f.Auth["team"].Secrets[0] != "team-secret" || f.Backends["echo"].URL != "ws://user:hunter2@127.0.0.1:9003/" {
		t.Error("Redacted modified the original File")
	}
	if (*File)(nil).Redacted() != nil {
		t.Error("nil File")
	}
}
