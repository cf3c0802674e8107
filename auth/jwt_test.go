package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testKeys are generated once: RSA generation is slow.
type testKeys struct {
	rsa, rsa2 *rsa.PrivateKey
	ec        *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
	rsaPEM    []byte // the public key, as an attacker would find it
}

var keysOnce = sync.OnceValue(func() *testKeys {
	var k testKeys
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		panic(err)
	}
	k.rsaPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return &k
})

const hmacSecret = "an-hmac-secret-of-at-least-32-bytes!"

// sign returns a token for claims, with kid in its header when not empty.
func sign(t testing.TB, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claims returns valid claims at now, changed by edit.
func claims(now time.Time, edit func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{
		"sub": "alice",
		"iss": "https://issuer.example",
		"aud": "agentbridge",
		"exp": now.Add(time.Hour).Unix(),
		"iat": now.Unix(),
	}
	if edit != nil {
		edit(c)
	}
	return c
}

// TestJWTPitfalls has one case per pitfall of reliability.md 3.1.
func TestJWTPitfalls(t *testing.T) {
	k := keysOnce()
	clk := newFakeClock()
	now := clk.Now()
	base := func() JWTConfig {
		return JWTConfig{
			Name:       "sso",
			Algorithms: []string{"RS256"},
			Keys:       []crypto.PublicKey{&k.rsa.PublicKey},
			Issuer:     "https://issuer.example",
			Audience:   "agentbridge",
			Now:        clk.Now,
		}
	}
	rs := func(edit func(jwt.MapClaims)) string {
		return sign(t, jwt.SigningMethodRS256, k.rsa, "", claims(now, edit))
	}
	unsigned := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", claims(now, nil))
	tests := []struct {
		name        string
		cfg         func(*JWTConfig)
		token       string
		want        error
		reason      string // in the error text, when set
		wantExpires time.Time
	}{
		{name: "RS256 happy path", token: rs(nil), wantExpires: now.Add(time.Hour)},
		{name: "alg none unsigned", token: unsigned, want: ErrInvalid, reason: "signature or algorithm"},
		{name: "alg none with a bogus signature", token: unsigned + "c2lnbmF0dXJl", want: ErrInvalid, reason: "signature or algorithm"},
		{name: "HS/RS confusion, HS256 not allowed",
			token: sign(t, jwt.SigningMethodHS256, k.rsaPEM, "", claims(now, nil)), want: ErrInvalid},
		{name: "HS/RS confusion, HS256 allowed, public key PEM as the secret",
			cfg: func(c *JWTConfig) {
				c.Algorithms = []string{"RS256", "HS256"}
				c.Secret = []byte(hmacSecret)
			},
			token: sign(t, jwt.SigningMethodHS256, k.rsaPEM, "", claims(now, nil)), want: ErrInvalid},
		{name: "HS256 with the right secret",
			cfg: func(c *JWTConfig) {
				c.Algorithms = []string{"RS256", "HS256"}
				c.Secret = []byte(hmacSecret)
			},
			token: sign(t, jwt.SigningMethodHS256, []byte(hmacSecret), "", claims(now, nil)), wantExpires: now.Add(time.Hour)},
		{name: "disallowed alg RS384", token: sign(t, jwt.SigningMethodRS384, k.rsa, "", claims(now, nil)), want: ErrInvalid},
		{name: "disallowed alg PS256 with the allowed key", token: sign(t, jwt.SigningMethodPS256, k.rsa, "", claims(now, nil)), want: ErrInvalid},
		{name: "signed by another key", token: sign(t, jwt.SigningMethodRS256, k.rsa2, "", claims(now, nil)), want: ErrInvalid},
		{name: "tampered claims", token: tamper(rs(nil)), want: ErrInvalid},
		{name: "expired", token: rs(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() }), want: ErrExpired},
		{name: "missing exp", token: rs(func(c jwt.MapClaims) { delete(c, "exp") }), want: ErrInvalid, reason: "required claim missing"},
		{name: "exp of the wrong type", token: rs(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }), want: ErrInvalid},
		{name: "exp a number in a string (not an RFC 7519 NumericDate)",
			token: rs(func(c jwt.MapClaims) { c["exp"] = strconv.FormatInt(now.Add(time.Hour).Unix(), 10) }), want: ErrInvalid},
		{name: "nbf a number in a string",
			token: rs(func(c jwt.MapClaims) { c["nbf"] = strconv.FormatInt(now.Unix(), 10) }), want: ErrInvalid},
		{name: "iat a number in a string",
			token: rs(func(c jwt.MapClaims) { c["iat"] = strconv.FormatInt(now.Unix(), 10) }), want: ErrInvalid},
		{name: "future nbf", token: rs(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() }), want: ErrInvalid, reason: "not valid yet"},
		{name: "wrong aud", token: rs(func(c jwt.MapClaims) { c["aud"] = "other" }), want: ErrInvalid, reason: "wrong audience"},
		{name: "aud list holding ours", token: rs(func(c jwt.MapClaims) { c["aud"] = []string{"other", "agentbridge"} }), wantExpires: now.Add(time.Hour)},
		{name: "missing aud", token: rs(func(c jwt.MapClaims) { delete(c, "aud") }), want: ErrInvalid, reason: "required claim missing"},
		{name: "wrong iss", token: rs(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), want: ErrInvalid, reason: "wrong issuer"},
		{name: "missing iss", token: rs(func(c jwt.MapClaims) { delete(c, "iss") }), want: ErrInvalid, reason: "required claim missing"},
		{name: "leeway: expired within leeway",
			cfg:         func(c *JWTConfig) { c.Leeway = 30 * time.Second },
			token:       rs(func(c jwt.MapClaims) { c["exp"] = now.Add(-29 * time.Second).Unix() }),
			wantExpires: now.Add(time.Second)},
		{name: "leeway: expired beyond leeway",
			cfg:   func(c *JWTConfig) { c.Leeway = 30 * time.Second },
			token: rs(func(c jwt.MapClaims) { c["exp"] = now.Add(-31 * time.Second).Unix() }), want: ErrExpired},
		{name: "leeway: nbf within leeway",
			cfg:         func(c *JWTConfig) { c.Leeway = 30 * time.Second },
			token:       rs(func(c jwt.MapClaims) { c["nbf"] = now.Add(29 * time.Second).Unix() }),
			wantExpires: now.Add(time.Hour + 30*time.Second)},
		{name: "oversized token", token: "Bearer " + strings.Repeat(".", 100000), want: ErrInvalid, reason: "longer than 8192"},
		{name: "oversized token with a custom cap",
			cfg:   func(c *JWTConfig) { c.MaxTokenBytes = 64 },
			token: rs(nil), want: ErrInvalid},
		{name: "malformed", token: "not.a.jwt", want: ErrInvalid},
		{name: "secret presented as JWT", token: "current-secret", want: ErrInvalid},
		{name: "missing", token: "", want: ErrNoCredential},
		{name: "ES256 happy path",
			cfg: func(c *JWTConfig) {
				c.Algorithms = []string{"ES256"}
				c.Keys = []crypto.PublicKey{&k.ec.PublicKey}
			},
			token: sign(t, jwt.SigningMethodES256, k.ec, "", claims(now, nil)), wantExpires: now.Add(time.Hour)},
		{name: "EdDSA happy path",
			cfg: func(c *JWTConfig) {
				c.Algorithms = []string{"EdDSA"}
				c.Keys = []crypto.PublicKey{k.ed.Public()}
			},
			token: sign(t, jwt.SigningMethodEdDSA, k.ed, "", claims(now, nil)), wantExpires: now.Add(time.Hour)},
		{name: "ES256 token against only an Ed25519 key",
			cfg: func(c *JWTConfig) {
				c.Algorithms = []string{"ES256", "EdDSA"}
				c.Keys = []crypto.PublicKey{k.ed.Public()}
			},
			token: sign(t, jwt.SigningMethodES256, k.ec, "", claims(now, nil)), want: ErrInvalid, reason: "no key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			j, err := NewJWT(cfg)
			if err != nil {
				t.Fatal(err)
			}
			id, err := j.Authenticate(context.Background(), Credential{Value: tt.token, Source: FromBearer, Route: "chat"})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tt.reason) {
					t.Errorf("err = %v, want it to say %q", err, tt.reason)
				}
				if tt.token != "" && strings.Contains(err.Error(), tt.token) {
					t.Errorf("error %q contains the token", err)
				}
				return
			}
			if id.Subject != "alice" || id.Provider != "sso" {
				t.Errorf("identity = %+v", id)
			}
			if !id.Expires.Equal(tt.wantExpires) {
				t.Errorf("Expires = %v, want %v", id.Expires, tt.wantExpires)
			}
		})
	}
}

// tamper changes the subject in a token's claims, keeping its signature.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	c, _ := b64url(parts[1])
	c = []byte(strings.Replace(string(c), `"alice"`, `"admin"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(c)
	return strings.Join(parts, ".")
}

func TestNewJWTConfig(t *testing.T) {
	k := keysOnce()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsaKeys := []crypto.PublicKey{&k.rsa.PublicKey}
	tests := []struct {
		name string
		cfg  JWTConfig
	}{
		{"no algorithms", JWTConfig{Keys: rsaKeys}},
		{"alg none", JWTConfig{Algorithms: []string{"RS256", "none"}, Keys: rsaKeys}},
		{"alg NONE", JWTConfig{Algorithms: []string{"NONE"}, Keys: rsaKeys}},
		{"unknown alg", JWTConfig{Algorithms: []string{"rs256"}, Keys: rsaKeys}},
		{"HS without secret", JWTConfig{Algorithms: []string{"HS256"}}},
		{"secret without HS (key confusion)", JWTConfig{Algorithms: []string{"RS256"}, Keys: rsaKeys, Secret: []byte(hmacSecret)}},
		{"asymmetric without keys", JWTConfig{Algorithms: []string{"RS256"}}},
		{"keys without asymmetric alg", JWTConfig{Algorithms: []string{"HS256"}, Secret: []byte(hmacSecret), Keys: rsaKeys}},
		{"RSA key under 2048 bits", JWTConfig{Algorithms: []string{"RS256"}, Keys: []crypto.PublicKey{&small.PublicKey}}},
		{"private key as a key", JWTConfig{Algorithms: []string{"RS256"}, Keys: []crypto.PublicKey{k.rsa}}},
		{"negative leeway", JWTConfig{Algorithms: []string{"RS256"}, Keys: rsaKeys, Leeway: -time.Second}},
		{"JWKS URL not http", JWTConfig{Algorithms: []string{"RS256"}, JWKSURL: "ftp://keys.example/jwks"}},
		{"missing key file", JWTConfig{Algorithms: []string{"RS256"}, KeyFiles: []string{"/nonexistent/key.pem"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewJWT(tt.cfg); err == nil {
				t.Fatal("accepted")
			} else if strings.Contains(err.Error(), hmacSecret) {
				t.Errorf("error %q contains the secret", err)
			}
		})
	}
}
