package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// allSources is every place a credential can come from.
var allSources = []Source{FromHeader, FromQuery, FromMessage, FromBearer, FromTicket, FromAccessToken}

func TestProvidersReadOnlyTheirPlaces(t *testing.T) {
	sec, err := NewSecret("team", []string{"team-secret"})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := NewTickets(TicketsConfig{Name: "tickets"})
	if err != nil {
		t.Fatal(err)
	}
	j, err := NewJWT(JWTConfig{Name: "sso", Algorithms: []string{"HS256"}, Secret: []byte(hmacSecret)})
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, jwt.SigningMethodHS256, []byte(hmacSecret), "", jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()})
	tests := []struct {
		name  string
		value func() string
		a     interface {
			Authenticate(context.Context, Credential) (Identity, error)
		}
		accepts []Source
	}{
		{"secret", func() string { return "team-secret" }, sec, []Source{FromHeader, FromQuery, FromMessage, FromBearer}},
		{"ticket", func() string { v, _, _ := tk.Issue("chat", "/chat"); return v }, tk, []Source{FromTicket}},
		{"jwt", func() string { return tok }, j, []Source{FromBearer, FromAccessToken}},
	}
	for _, tt := range tests {
		for _, src := range allSources {
			want := ErrNoCredential
			for _, a := range tt.accepts {
				if a == src {
					want = nil
				}
			}
			_, err := tt.a.Authenticate(context.Background(), Credential{Value: tt.value(), Source: src, Route: "chat", Path: "/chat"})
			if !errors.Is(err, want) {
				t.Errorf("%s from source %d: %v, want %v", tt.name, src, err, want)
			}
		}
	}
}
