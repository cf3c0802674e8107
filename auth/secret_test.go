package auth

import (
	"context"
	"errors"
	"testing"
)

func TestSecret(t *testing.T) {
	s, err := NewSecret("team", []string{"current-secret", "previous-secret"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		value string
		want  error
	}{
		{"current", "current-secret", nil},
		{"second active secret (rotation)", "previous-secret", nil},
		{"wrong", "current-secreT", ErrInvalid},
		{"prefix", "current", ErrInvalid},
		{"longer", "current-secret-and-more", ErrInvalid},
		{"missing", "", ErrNoCredential},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := s.Authenticate(context.Background(), Credential{Value: tt.value, Source: FromHeader})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Authenticate(%q) = %v, want %v", tt.value, err, tt.want)
			}
			if err == nil && id.Provider != "team" {
				t.Errorf("provider = %q", id.Provider)
			}
		})
	}
	if _, err := NewSecret("x", []string{""}); err == nil {
		t.Error("an empty secret was accepted")
	}
	if _, err := NewSecret("x", nil); err == nil {
		t.Error("no secrets were accepted")
	}
}
