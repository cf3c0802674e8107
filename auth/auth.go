package auth

import (
	"errors"
	"time"
)

// Source says where a credential came from. Each provider reads only its
// own places, so a secret is never taken from where a ticket or a token
// goes, nor the other way round.
type Source uint8

const (
	FromHeader      Source = iota + 1 // the dialect's header (X-Connic-Secret, x-api-key)
	FromQuery                         // the dialect's query parameter
	FromMessage                       // an in-band first message
	FromBearer                        // Authorization: Bearer
	FromTicket                        // ?ticket= or a ticket.<value> subprotocol
	FromAccessToken                   // ?access_token= or a jwt.<token> subprotocol
)

// Credential is what a client presented.
type Credential struct {
	Value  string
	Source Source
	// Route is the name of the route the client asks for, and Path the path
	// it asked for (a ticket is bound to both).
	Route string
	Path  string
	// Peek says the credential is for a read beside the socket of Path (the
	// Agents SDK's get-messages, which carries the socket's query): a
	// ticket is checked but not used up, and one already used by that
	// socket is still good until it expires.
	Peek bool
}

// Identity is an admitted client.
type Identity struct {
	// Subject names the client when the provider knows it (a JWT's sub, a
	// trusted header's value); empty for shared secrets.
	Subject string
	// Provider is the name of the provider that admitted the client.
	Provider string
	// Expires, when not zero, is when the session must end.
	Expires time.Time
}

// The errors providers return. Callers map them to 401 or close 1008.
var (
	ErrNoCredential = errors.New("auth: no credential")
	ErrInvalid      = errors.New("auth: invalid credential")
	ErrExpired      = errors.New("auth: credential expired")
	ErrReplayed     = errors.New("auth: credential already used")
)
