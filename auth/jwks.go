package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	jwksMaxBytes     = 1 << 20          // a key set larger than this is refused
	jwksFetchTimeout = 10 * time.Second // bounds a fetch even with a custom client
)

// jwks is a cached JSON Web Key Set (RFC 7517). Fetches happen in their own
// goroutine, one at a time, and at most once per min: a caller waits for
// the fetch in flight or until its ctx ends, whichever is first. A failed
// fetch keeps the keys already known, so tokens signed with them keep
// working while the endpoint is down.
type jwks struct {
	url    string
	client *http.Client
	min    time.Duration
	now    func() time.Time

	mu       sync.Mutex
	keys     []jwksKey
	tried    bool          // a fetch has started
	last     time.Time     // when the last fetch started
	ok       bool          // a fetch has succeeded
	inflight chan struct{} // closed when the fetch in flight ends
}

type jwksKey struct {
	kid, alg string
	key      crypto.PublicKey
}

func newJWKS(url string, client *http.Client, min time.Duration, now func() time.Time) *jwks {
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	if min == 0 {
		min = time.Minute
	}
	return &jwks{url: url, client: client, min: min, now: now}
}

// lookup returns the key named kid when it may verify alg.
func (s *jwks) lookup(kid, alg string) (crypto.PublicKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if k.kid == kid && (k.alg == "" || k.alg == alg) && keyFits(k.key, alg) {
			return k.key, true
		}
	}
	return nil, false
}

// keysFor appends to dst every key that may verify alg.
func (s *jwks) keysFor(alg string, dst []jwt.VerificationKey) []jwt.VerificationKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if (k.alg == "" || k.alg == alg) && keyFits(k.key, alg) {
			dst = append(dst, k.key)
		}
	}
	return dst
}

// fetched reports whether a fetch has ever succeeded.
func (s *jwks) fetched() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ok
}

// refresh starts a fetch unless one is in flight or one started less than
// min ago, and waits for the one in flight, if any, or for ctx.
func (s *jwks) refresh(ctx context.Context) {
	s.mu.Lock()
	if s.inflight == nil {
		now := s.now()
		if s.tried && now.Sub(s.last) < s.min {
			s.mu.Unlock()
			return
		}
		s.tried, s.last = true, now
		s.inflight = make(chan struct{})
		go s.fetch(s.inflight)
	}
	done := s.inflight
	s.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// fetch replaces the keys with the endpoint's, unless that fails, and
// closes done. Errors are dropped: the package does not log, and the next
// unknown kid will try again.
func (s *jwks) fetch(done chan struct{}) {
	keys, err := s.get()
	s.mu.Lock()
	if err == nil {
		s.keys, s.ok = keys, true
	}
	s.inflight = nil
	s.mu.Unlock()
	close(done)
}

func (s *jwks) get() ([]jwksKey, error) {
	ctx, cancel := context.WithTimeout(context.Background(), jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > jwksMaxBytes {
		return nil, errors.New("jwks: too large")
	}
	return parseJWKS(body)
}

// rawJWK holds the members of a JWK that matter here (RFC 7517 section 4,
// RFC 7518 section 6, RFC 8037 section 2).
type rawJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d"`
}

// parseJWKS returns the usable signature keys of a key set, skipping keys
// of other types or uses. A set without any usable key is an error, so that
// a broken response does not wipe the keys already known.
func parseJWKS(body []byte) ([]jwksKey, error) {
	var set struct {
		Keys []rawJWK `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, errors.New("jwks: not a JSON key set")
	}
	var keys []jwksKey
	for _, r := range set.Keys {
		if (r.Use != "" && r.Use != "sig") || r.D != "" {
			continue // an encryption key, or a private key published by mistake
		}
		k, err := parseJWK(r)
		if err != nil {
			continue
		}
		keys = append(keys, jwksKey{kid: r.Kid, alg: r.Alg, key: k})
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks: no usable keys")
	}
	return keys, nil
}

func parseJWK(r rawJWK) (crypto.PublicKey, error) {
	switch r.Kty {
	case "RSA":
		n, err1 := b64url(r.N)
		e, err2 := b64url(r.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("jwk: bad RSA key")
		}
		exp := new(big.Int).SetBytes(e).Int64()
		k := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp)}
		return k, checkPublicKey(k)
	case "EC":
		var curve elliptic.Curve
		switch r.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, errors.New("jwk: unsupported curve")
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err1 := b64url(r.X)
		y, err2 := b64url(r.Y)
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return nil, errors.New("jwk: bad EC key")
		}
		point := append(append([]byte{4}, x...), y...)
		return ecdsa.ParseUncompressedPublicKey(curve, point) // checks the point is on the curve
	case "OKP":
		x, err := b64url(r.X)
		if r.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("jwk: bad OKP key")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, errors.New("jwk: unsupported key type")
}

// b64url decodes base64url without padding (RFC 7515 section 2), tolerating
// padding some servers add.
func b64url(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
