package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestRedacted(t *testing.T) {
	f, err := parse("full.yaml", mustRead(t, "testdata/valid/full.yaml"), lookup, testDialects)
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
	for _, b := range r.Backends {
		dump += fmt.Sprintf("%+v", b.Settings)
	}
	for _, secret := range []string{"connic-secret", "wiro-key"} {
		if strings.Contains(dump, secret) {
			t.Errorf("Redacted settings still hold %q", secret)
		}
	}
	if r.Auth["team"].Secrets[0] != RedactedText || r.Backends["wiroapi"].Settings.String("api_key") != RedactedText {
		t.Errorf("secrets not replaced: %v %q", r.Auth["team"].Secrets, r.Backends["wiroapi"].Settings.String("api_key"))
	}
	if s := r.Backends["echo"].Settings.String("end_marker"); s != "" {
		t.Errorf("empty end_marker became %q", s)
	}
	if f.Backends["support"].Settings.String("secret") != "connic-secret" {
		t.Error("Redacted modified the original settings")
	}
	// The original is untouched.
	if f.Auth["team"].Secrets[0] != "team-secret" || f.Backends["echo"].URL != "ws://user:hunter2@127.0.0.1:9003/" {
		t.Error("Redacted modified the original File")
	}
	if (*File)(nil).Redacted() != nil {
		t.Error("nil File")
	}
}
