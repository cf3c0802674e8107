package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
)

// Secret admits clients that present one of several shared secrets (more
// than one while a secret is being rotated).
//
// Comparison takes the same time whatever the candidate: both sides are
// hashed to 32 bytes first, so neither a wrong byte's position nor a wrong
// length shows in the timing, and every active secret is compared.
type Secret struct {
	name   string
	hashes [][sha256.Size]byte
}

// NewSecret returns a provider named name for secrets. It refuses an empty
// list or an empty secret (usually an unset environment variable).
func NewSecret(name string, secrets []string) (*Secret, error) {
	if len(secrets) == 0 {
		return nil, errors.New("auth: secret provider " + name + " has no secrets")
	}
	s := &Secret{name: name}
	for _, v := range secrets {
		if v == "" {
			return nil, errors.New("auth: secret provider " + name + " has an empty secret")
		}
		s.hashes = append(s.hashes, sha256.Sum256([]byte(v)))
	}
	return s, nil
}

// Authenticate admits c when its value equals one of the secrets. A secret
// comes in the dialect's header or query parameter, Authorization: Bearer or
// a first message; from anywhere else it is ErrNoCredential.
func (s *Secret) Authenticate(_ context.Context, c Credential) (Identity, error) {
	switch c.Source {
	case FromHeader, FromQuery, FromBearer, FromMessage:
	default:
		return Identity{}, ErrNoCredential
	}
	if c.Value == "" {
		return Identity{}, ErrNoCredential
	}
	h := sha256.Sum256([]byte(c.Value))
	match := 0
	for i := range s.hashes {
		match |= subtle.ConstantTimeCompare(h[:], s.hashes[i][:])
	}
	if match != 1 {
		return Identity{}, ErrInvalid
	}
	return Identity{Provider: s.name}, nil
}
