package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwksServer serves a key set on 127.0.0.1, counts requests, and can be
// switched off (503) and on again.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int32
	down atomic.Bool
	body atomic.Pointer[[]byte]
}

func newJWKSServer(t *testing.T, keys map[string]crypto.PublicKey) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.set(t, keys)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		if s.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(t *testing.T, keys map[string]crypto.PublicKey) {
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	for kid, k := range keys {
		set.Keys = append(set.Keys, jwk(t, kid, k))
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s.body.Store(&b)
}

// jwk encodes k as a JWK named kid.
func jwk(t *testing.T, kid string, k crypto.PublicKey) map[string]string {
	enc := base64.RawURLEncoding.EncodeToString
	switch k := k.(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "n": enc(k.N.Bytes()), "e": enc(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		b, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		n := (len(b) - 1) / 2
		return map[string]string{"kty": "EC", "kid": kid, "crv": k.Curve.Params().Name, "x": enc(b[1 : 1+n]), "y": enc(b[1+n:])}
	case ed25519.PublicKey:
		return map[string]string{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": enc(k)}
	}
	t.Fatalf("jwk: %T", k)
	return nil
}

func TestJWTJWKS(t *testing.T) {
	k := keysOnce()
	clk := newFakeClock()
	srv := newJWKSServer(t, map[string]crypto.PublicKey{
		"r1": &k.rsa.PublicKey, "e1": &k.ec.PublicKey, "d1": k.ed.Public(),
	})
	j, err := NewJWT(JWTConfig{
		Name:       "sso",
		Algorithms: []string{"RS256", "ES256", "EdDSA"},
		JWKSURL:    srv.URL,
		Now:        clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := srv.hits.Load(); n != 0 {
		t.Fatalf("NewJWT fetched the JWKS %d times, want 0", n)
	}
	now := clk.Now()
	auth := func(tok string) error {
		_, err := j.Authenticate(context.Background(), Credential{Value: tok, Source: FromBearer})
		return err
	}
	tokR1 := sign(t, jwt.SigningMethodRS256, k.rsa, "r1", claims(now, nil))
	tokUnknown := sign(t, jwt.SigningMethodRS256, k.rsa2, "r2", claims(now, nil))
	steps := []struct {
		name     string
		do       func()
		token    string
		want     error
		wantHits int32
	}{
		{name: "RS256 by kid, first fetch", token: tokR1, wantHits: 1},
		{name: "ES256 by kid, cached", token: sign(t, jwt.SigningMethodES256, k.ec, "e1", claims(now, nil)), wantHits: 1},
		{name: "EdDSA by kid, cached", token: sign(t, jwt.SigningMethodEdDSA, k.ed, "d1", claims(now, nil)), wantHits: 1},
		{name: "no kid tries every key of the type", token: sign(t, jwt.SigningMethodRS256, k.rsa, "", claims(now, nil)), wantHits: 1},
		{name: "kid of a key of another type, within the refresh interval", token: sign(t, jwt.SigningMethodRS256, k.rsa, "e1", claims(now, nil)), want: ErrInvalid, wantHits: 1},
		{name: "unknown kid within the refresh interval", token: tokUnknown, want: ErrInvalid, wantHits: 1},
		{name: "rotation: new kid after the interval",
			do: func() {
				srv.set(t, map[string]crypto.PublicKey{"r1": &k.rsa.PublicKey, "r2": &k.rsa2.PublicKey})
				clk.Advance(time.Minute)
			},
			token: tokUnknown, wantHits: 2},
		{name: "JWKS down: known kid still works",
			do:    func() { srv.down.Store(true); clk.Advance(time.Minute) },
			token: tokR1, wantHits: 2},
		{name: "JWKS down: unknown kid refreshes once",
			do: func() {
				for range 50 {
					auth(sign(t, jwt.SigningMethodRS256, k.rsa, "nope", claims(now, nil)))
				}
			},
			token: sign(t, jwt.SigningMethodRS256, k.rsa, "nope", claims(now, nil)), want: ErrInvalid, wantHits: 3},
		{name: "JWKS down: known kid after a failed refresh", token: tokR1, wantHits: 3},
		{name: "JWKS gone: known kid still works",
			do:    func() { srv.Close(); clk.Advance(2 * time.Minute) },
			token: tokR1, wantHits: 3},
	}
	for _, s := range steps {
		if s.do != nil {
			s.do()
		}
		err := auth(s.token)
		if !errors.Is(err, s.want) {
			t.Fatalf("%s: err = %v, want %v", s.name, err, s.want)
		}
		if n := srv.hits.Load(); n != s.wantHits {
			t.Fatalf("%s: JWKS fetched %d times, want %d", s.name, n, s.wantHits)
		}
	}
}

func TestJWTJWKSConcurrentUnknownKidFetchesOnce(t *testing.T) {
	k := keysOnce()
	clk := newFakeClock()
	srv := newJWKSServer(t, map[string]crypto.PublicKey{"r1": &k.rsa.PublicKey})
	j, err := NewJWT(JWTConfig{Name: "sso", Algorithms: []string{"RS256"}, JWKSURL: srv.URL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, jwt.SigningMethodRS256, k.rsa, "nope", claims(clk.Now(), nil))
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := j.Authenticate(context.Background(), Credential{Value: tok, Source: FromBearer}); !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
		})
	}
	wg.Wait()
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times, want 1", n)
	}
}

func TestJWTJWKSDownFromStart(t *testing.T) {
	k := keysOnce()
	clk := newFakeClock()
	srv := newJWKSServer(t, map[string]crypto.PublicKey{"r1": &k.rsa.PublicKey})
	srv.down.Store(true)
	j, err := NewJWT(JWTConfig{Name: "sso", Algorithms: []string{"RS256"}, JWKSURL: srv.URL, Now: clk.Now, JWKSMinRefresh: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, jwt.SigningMethodRS256, k.rsa, "r1", claims(clk.Now(), nil))
	for i, want := range []int32{1, 1, 1} {
		if _, err := j.Authenticate(context.Background(), Credential{Value: tok, Source: FromBearer}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("attempt %d: err = %v, want ErrInvalid", i, err)
		}
		if n := srv.hits.Load(); n != want {
			t.Fatalf("attempt %d: fetched %d times, want %d", i, n, want)
		}
	}
	srv.down.Store(false)
	clk.Advance(10 * time.Second)
	if _, err := j.Authenticate(context.Background(), Credential{Value: tok, Source: FromBearer}); err != nil {
		t.Fatalf("once the JWKS is back: %v", err)
	}
}

func TestParseJWKS(t *testing.T) {
	k := keysOnce()
	good := jwk(t, "r1", &k.rsa.PublicKey)
	with := func(m map[string]string, key, val string) map[string]string {
		c := map[string]string{}
		for k, v := range m {
			c[k] = v
		}
		c[key] = val
		return c
	}
	ec := jwk(t, "e1", &k.ec.PublicKey)
	tests := []struct {
		name string
		keys []map[string]string
		want int // usable keys; 0 means an error
	}{
		{"one RSA key", []map[string]string{good}, 1},
		{"encryption key skipped", []map[string]string{with(good, "use", "enc"), good}, 1},
		{"private key skipped", []map[string]string{with(good, "d", "AQAB")}, 0},
		{"short RSA modulus skipped", []map[string]string{with(good, "n", "AQAB")}, 0},
		{"EC point off the curve skipped", []map[string]string{with(ec, "y", ec["x"])}, 0},
		{"unknown curve skipped", []map[string]string{with(ec, "crv", "secp256k1")}, 0},
		{"unknown kty skipped", []map[string]string{{"kty": "oct", "k": "c2VjcmV0"}}, 0},
		{"empty set", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := json.Marshal(map[string]any{"keys": tt.keys})
			keys, err := parseJWKS(b)
			if len(keys) != tt.want || (err == nil) != (tt.want > 0) {
				t.Fatalf("parseJWKS = %d keys, %v; want %d", len(keys), err, tt.want)
			}
		})
	}
	if _, err := parseJWKS([]byte("<html>")); err == nil {
		t.Error("HTML accepted as a key set")
	}
}
