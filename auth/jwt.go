package auth

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWTConfig configures a JWT provider. Algorithms and at least one key
// source are required.
type JWTConfig struct {
	// Name is the provider's name, reported as Identity.Provider.
	Name string
	// Algorithms is the allow-list of signing algorithms: any of HS256,
	// HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384,
	// ES512 and EdDSA. "none" is refused. A token signed otherwise is refused
	// before any key is looked up.
	Algorithms []string
	// Secret is the HMAC key for HS*. It is required when an HS algorithm is
	// allowed and refused otherwise.
	Secret []byte
	// Keys are public keys for RS*, PS*, ES* and EdDSA: *rsa.PublicKey (at
	// least 2048 bits), *ecdsa.PublicKey (P-256, P-384, P-521) or
	// ed25519.PublicKey.
	Keys []crypto.PublicKey
	// KeyFiles are PEM files holding more public keys: PUBLIC KEY (PKIX),
	// RSA PUBLIC KEY (PKCS #1) or CERTIFICATE blocks. They are read once, by
	// NewJWT.
	KeyFiles []string
	// JWKSURL is an http or https URL serving a JSON Web Key Set. Its keys
	// are selected by the token's kid; it is fetched on first need and again
	// when a token names an unknown kid, at most once per JWKSMinRefresh.
	JWKSURL string
	// Issuer, when set, is the required iss claim.
	Issuer string
	// Audience, when set, must be among the aud claim's values.
	Audience string
	// Leeway is the clock skew allowed on exp and nbf. Default 0.
	Leeway time.Duration
	// Now is the clock. If nil, time.Now is used.
	Now func() time.Time
	// HTTPClient fetches the JWKS. If nil, a client with a 5s timeout is
	// used.
	HTTPClient *http.Client
	// JWKSMinRefresh is the least time between two JWKS fetches, so that
	// tokens with made-up kids cannot hammer the JWKS endpoint. If zero, one
	// minute is used.
	JWKSMinRefresh time.Duration
	// MaxTokenBytes bounds a token's length; a longer one is refused before
	// it is parsed (CVE-2025-30204 was a parsing DoS). If zero, 8 KiB is
	// used.
	MaxTokenBytes int
}

// JWT admits clients that present a signed JSON Web Token (RFC 7519).
//
// Keys are chosen by the token's algorithm family, never by what the token
// asks for: an HS* token is checked only against Secret, and an RS*, PS*,
// ES* or EdDSA token only against public keys of the matching type, so a
// token HMAC-signed with a public key as the secret (the classic HS/RS
// confusion) cannot verify. The exp claim is required; iss and aud are
// checked when configured.
//
// A JWT is safe for concurrent use.
type JWT struct {
	name   string
	max    int
	parser *jwt.Parser
	secret []byte
	keys   []crypto.PublicKey // static, without kid
	jwks   *jwks              // nil without JWKSURL
	leeway time.Duration
}

// jwtAlgorithms lists the algorithms a JWT provider may allow.
var jwtAlgorithms = []string{
	"HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
}

// NewJWT returns a JWT provider for cfg. It reads cfg.KeyFiles but does not
// fetch cfg.JWKSURL: a JWKS endpoint that is down at start should not stop
// the proxy from serving routes that do not need it.
func NewJWT(cfg JWTConfig) (*JWT, error) {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("auth: jwt provider %s: "+format, append([]any{cfg.Name}, a...)...)
	}
	if len(cfg.Algorithms) == 0 {
		return nil, fail("no algorithms allowed")
	}
	var hs, asym bool
	for _, a := range cfg.Algorithms {
		switch {
		case strings.EqualFold(a, "none"):
			return nil, fail(`algorithm "none" is refused: it accepts unsigned tokens`)
		case !slices.Contains(jwtAlgorithms, a):
			return nil, fail("unknown algorithm %q", a)
		case strings.HasPrefix(a, "HS"):
			hs = true
		default:
			asym = true
		}
	}
	keys := slices.Clone(cfg.Keys)
	for _, f := range cfg.KeyFiles {
		ks, err := loadKeyFile(f)
		if err != nil {
			return nil, fail("%w", err)
		}
		keys = append(keys, ks...)
	}
	for i, k := range keys {
		if err := checkPublicKey(k); err != nil {
			return nil, fail("key %d: %w", i, err)
		}
	}
	switch {
	case hs && len(cfg.Secret) == 0:
		return nil, fail("an HS algorithm is allowed but no secret is set")
	case !hs && len(cfg.Secret) > 0:
		return nil, fail("a secret is set but no HS algorithm is allowed (it would invite key confusion)")
	case asym && len(keys) == 0 && cfg.JWKSURL == "":
		return nil, fail("an asymmetric algorithm is allowed but there are no keys or JWKS URL")
	case !asym && (len(keys) > 0 || cfg.JWKSURL != ""):
		return nil, fail("public keys are set but no asymmetric algorithm is allowed")
	case cfg.Leeway < 0 || cfg.JWKSMinRefresh < 0 || cfg.MaxTokenBytes < 0:
		return nil, fail("negative leeway, JWKS refresh interval or token size")
	}
	j := &JWT{
		name:   cfg.Name,
		max:    cfg.MaxTokenBytes,
		secret: slices.Clone(cfg.Secret),
		keys:   keys,
		leeway: cfg.Leeway,
	}
	if j.max == 0 {
		j.max = 8 << 10
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if cfg.JWKSURL != "" {
		u, err := url.Parse(cfg.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fail("JWKS URL is not an http(s) URL")
		}
		j.jwks = newJWKS(cfg.JWKSURL, cfg.HTTPClient, cfg.JWKSMinRefresh, now)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(slices.Clone(cfg.Algorithms)),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	j.parser = jwt.NewParser(opts...)
	return j, nil
}

// Authenticate admits c when its value is a token signed with an allowed
// algorithm and key, unexpired, and for the configured issuer and audience.
// Identity.Subject is the sub claim and Identity.Expires is exp plus the
// leeway: the last moment at which the token would still be accepted, when
// the proxy should end the session. It returns ErrExpired for an expired
// token and an error wrapping ErrInvalid for any other fault; the error
// never contains the token. A token naming a kid the JWKS lacks may wait
// for a JWKS fetch, until ctx ends or the HTTP client times out. A token
// comes only as Authorization: Bearer, ?access_token= or a jwt. subprotocol;
// from anywhere else it is ErrNoCredential.
func (j *JWT) Authenticate(ctx context.Context, c Credential) (Identity, error) {
	if c.Value == "" || c.Source != FromBearer && c.Source != FromAccessToken {
		return Identity{}, ErrNoCredential
	}
	if len(c.Value) > j.max {
		return Identity{}, fmt.Errorf("%w: jwt longer than %d bytes", ErrInvalid, j.max)
	}
	var claims strictClaims
	_, err := j.parser.ParseWithClaims(c.Value, &claims, func(t *jwt.Token) (any, error) {
		return j.key(ctx, t)
	})
	if err != nil {
		return Identity{}, jwtError(err)
	}
	id := Identity{Subject: claims.Subject, Provider: j.name}
	if claims.Exp.NumericDate != nil { // always, as exp is required
		id.Expires = claims.Exp.Add(j.leeway)
	}
	return id, nil
}

// strictClaims are the registered claims with exp, nbf and iat read as RFC
// 7519 NumericDates: JSON numbers. jwt.NumericDate also takes a number in a
// string ("exp":"9999999999"), which the RFC does not allow.
type strictClaims struct {
	jwt.RegisteredClaims
	Exp numericDate `json:"exp"`
	Nbf numericDate `json:"nbf"`
	Iat numericDate `json:"iat"`
}

func (c *strictClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.Exp.NumericDate, nil }
func (c *strictClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.Nbf.NumericDate, nil }
func (c *strictClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.Iat.NumericDate, nil }

// numericDate is a jwt.NumericDate that refuses a JSON string.
type numericDate struct{ *jwt.NumericDate }

var errStringDate = errors.New("a date claim is a string, not a number")

func (d *numericDate) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '"':
		return errStringDate
	}
	d.NumericDate = new(jwt.NumericDate)
	return d.NumericDate.UnmarshalJSON(b)
}

var (
	errNoKey      = errors.New("no key for the algorithm")
	errUnknownKID = errors.New("unknown key id")
)

// key returns the key, or set of keys, to verify t with. The parser has
// already checked t's algorithm against the allow-list; the type switch
// checks it again so that a []byte can only ever reach an HMAC.
func (j *JWT) key(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	switch t.Method.(type) {
	case *jwt.SigningMethodHMAC:
		if len(j.secret) == 0 {
			return nil, errNoKey
		}
		return j.secret, nil
	case *jwt.SigningMethodRSA, *jwt.SigningMethodRSAPSS, *jwt.SigningMethodECDSA, *jwt.SigningMethodEd25519:
	default:
		return nil, errNoKey
	}
	kid, _ := t.Header["kid"].(string)
	var set []jwt.VerificationKey
	if j.jwks != nil {
		if kid != "" {
			if k, ok := j.jwks.lookup(kid, alg); ok {
				return k, nil
			}
			j.jwks.refresh(ctx) // bounded by JWKSMinRefresh
			if k, ok := j.jwks.lookup(kid, alg); ok {
				return k, nil
			}
		} else {
			set = j.jwks.keysFor(alg, set)
			if len(set) == 0 && !j.jwks.fetched() {
				j.jwks.refresh(ctx)
				set = j.jwks.keysFor(alg, set)
			}
		}
	}
	for _, k := range j.keys {
		if keyFits(k, alg) {
			set = append(set, k)
		}
	}
	switch {
	case len(set) > 0:
		return jwt.VerificationKeySet{Keys: set}, nil
	case kid != "" && j.jwks != nil:
		return nil, errUnknownKID
	}
	return nil, errNoKey
}

// jwtReasons names the faults an error may report, first match wins. The
// library's own error text is never used: a JSON decoding error may quote
// bytes of the token.
var jwtReasons = []struct {
	err  error
	text string
}{
	{errUnknownKID, "unknown key id"},
	{errNoKey, "no key for the algorithm"},
	{jwt.ErrTokenMalformed, "malformed"},
	{jwt.ErrTokenSignatureInvalid, "signature or algorithm not accepted"},
	{jwt.ErrTokenRequiredClaimMissing, "required claim missing"},
	{jwt.ErrTokenInvalidAudience, "wrong audience"},
	{jwt.ErrTokenInvalidIssuer, "wrong issuer"},
	{jwt.ErrTokenNotValidYet, "not valid yet"},
	{jwt.ErrTokenUsedBeforeIssued, "used before issued"},
	{jwt.ErrInvalidType, "claim of the wrong type"},
}

// jwtError maps a parser error onto the package's sentinels.
func jwtError(err error) error {
	if errors.Is(err, jwt.ErrTokenExpired) {
		return ErrExpired
	}
	for _, r := range jwtReasons {
		if errors.Is(err, r.err) {
			return fmt.Errorf("%w: jwt %s", ErrInvalid, r.text)
		}
	}
	return fmt.Errorf("%w: jwt rejected", ErrInvalid)
}
