package auth

import (
	"context"
	"crypto"
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzTicketAuthenticate checks that no value panics, that only the issued
// ticket on its route is admitted, and that errors never quote the value.
func FuzzTicketAuthenticate(f *testing.F) {
	clk := newFakeClock()
	tk, err := NewTickets(TicketsConfig{Name: "browser", Now: clk.Now})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("", "chat")
	f.Add(strings.Repeat("A", ticketLen), "chat")
	f.Add("eyJhbGciOiJub25lIn0.e30.", "chat")
	f.Add(strings.Repeat("\xff", ticketLen), "")
	f.Fuzz(func(t *testing.T, value, route string) {
		_, err := tk.Authenticate(context.Background(), Credential{Value: value, Source: FromTicket, Route: route})
		if err == nil {
			t.Fatalf("a value that was never issued was admitted")
		}
		if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrNoCredential) {
			t.Fatalf("err = %v", err)
		}
		if len(value) >= 8 && strings.Contains(err.Error(), value) {
			t.Fatalf("error %q quotes the value", err)
		}
	})
}

// FuzzJWTAuthenticate checks that no token panics the parser or the key
// selection, and that errors never quote the token. Seeds include a valid
// token of each family, so the fuzzer mutates real headers and claims.
func FuzzJWTAuthenticate(f *testing.F) {
	k := keysOnce()
	clk := newFakeClock()
	now := clk.Now()
	j, err := NewJWT(JWTConfig{
		Name:       "sso",
		Algorithms: []string{"HS256", "RS256", "PS256", "ES256", "EdDSA"},
		Secret:     []byte(hmacSecret),
		Keys:       []crypto.PublicKey{&k.rsa.PublicKey, &k.ec.PublicKey, k.ed.Public()},
		Audience:   "agentbridge",
		Now:        clk.Now,
	})
	if err != nil {
		f.Fatal(err)
	}
	valid := map[string]bool{}
	for _, tok := range []string{
		sign(f, jwt.SigningMethodHS256, []byte(hmacSecret), "", claims(now, nil)),
		sign(f, jwt.SigningMethodRS256, k.rsa, "kid", claims(now, nil)),
		sign(f, jwt.SigningMethodES256, k.ec, "", claims(now, nil)),
		sign(f, jwt.SigningMethodEdDSA, k.ed, "", claims(now, nil)),
	} {
		valid[tok] = true
		f.Add(tok)
	}
	f.Add(sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims(now, nil)))
	f.Add("a.b.c")
	f.Add(strings.Repeat(".", 9000))
	f.Add(`eyJhbGciOiJIUzI1NiIsImtpZCI6e319.e30.`)
	f.Fuzz(func(t *testing.T, tok string) {
		_, err := j.Authenticate(context.Background(), Credential{Value: tok, Source: FromBearer})
		if err == nil {
			if !valid[tok] {
				// Only reachable by re-encoding a valid token's parts
				// equivalently, which strict decoding should forbid.
				t.Fatalf("an unsigned mutation was admitted")
			}
			return
		}
		if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrExpired) && !errors.Is(err, ErrNoCredential) {
			t.Fatalf("err = %v", err)
		}
		if len(tok) >= 8 && strings.Contains(err.Error(), tok) {
			t.Fatalf("error %q quotes the token", err)
		}
	})
}

// TestJWTOversizedTokenIsCheap checks that a huge token is refused before
// parsing: a handful of allocations whatever its size (CVE-2025-30204).
func TestJWTOversizedTokenIsCheap(t *testing.T) {
	k := keysOnce()
	j, err := NewJWT(JWTConfig{Algorithms: []string{"RS256"}, Keys: []crypto.PublicKey{&k.rsa.PublicKey}})
	if err != nil {
		t.Fatal(err)
	}
	c := Credential{Value: strings.Repeat(".", 100000), Source: FromBearer}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := j.Authenticate(context.Background(), c); !errors.Is(err, ErrInvalid) {
			t.Fatalf("err = %v", err)
		}
	})
	if allocs > 5 {
		t.Errorf("%v allocations per oversized token, want <= 5", allocs)
	}
}
