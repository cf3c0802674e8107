// Package auth decides whether a client may connect.
//
// # Providers
//
// Each provider is a concrete type built from a plain config struct by its
// constructor, which fills defaults and validates once, and has one method
// the proxy calls on every connection attempt:
//
//	Authenticate(ctx context.Context, c Credential) (Identity, error)
//
// The Credential is what the proxy found in a header, a query parameter or
// a first message, plus the route asked for. The providers are:
//
//   - Secret: one of several shared secrets (several during rotation),
//     compared in constant time over SHA-256 digests.
//   - Tickets: single-use, short-lived random tickets bound to a route,
//     issued over an authenticated REST call (Issue) for browsers, which
//     cannot set headers on a WebSocket handshake. Only ticket hashes are
//     stored; a ticket is consumed atomically by its first use.
//   - JWT: signed JSON Web Tokens, with an algorithm allow-list ("none"
//     refused), keys chosen by algorithm family so HS/RS confusion cannot
//     happen, required exp, optional iss and aud, static keys, PEM key files
//     or a JWKS selected by kid and refreshed at a bounded rate.
//   - TrustedHeader: an identity asserted by an upstream proxy in a header.
//     A header alone proves nothing, so its Authenticate always returns
//     ErrNoCredential; the proxy calls Identify with the peer's address
//     instead, and strips the header from untrusted peers' requests.
//
// The proxy tries a route's providers in order; there is no combinator
// here.
//
// # Errors
//
// Providers return ErrNoCredential (nothing presented), ErrExpired,
// ErrReplayed (a used ticket) or an error wrapping ErrInvalid; callers test
// them with errors.Is and map them to 401 or close 1008. The text of a
// wrapped error may name the fault for the server's log (wrong audience,
// unknown key id) but must never reach the client: never tell a client
// which part of a credential was wrong.
//
// # Clocks
//
// Every config with a notion of time has a Now func() time.Time field; nil
// means time.Now. Tests set it to a fake clock, so expiry is tested without
// sleeping. Identity.Expires, when not zero, is when the proxy must end the
// session (a JWT's exp plus the leeway).
//
// # What is never logged
//
// This package logs nothing. Credentials (secrets, tickets, tokens, header
// values) are never part of an error's text, never stored in the clear
// (secrets and tickets are kept as SHA-256 digests) and never sent to a
// backend; backends get only their own configured secrets. Errors from the
// JWT library are mapped onto fixed texts, since a decoding error may quote
// bytes of the token.
//
// This package knows nothing of the proxy, of dialects, of fasthttp or of
// YAML: the cmd package builds providers from config.AuthProvider.
package auth
