// Package auth decides whether a client may connect. Each provider type is
// a concrete type with one method, Authenticate, which takes the credential
// the proxy found (in a header, a query parameter or a first message) and
// returns who the client is, or an error that says nothing about why beyond
// the sentinel: never tell a client which part of a credential was wrong.
//
// Credentials are never logged, never part of an error's text, and never
// sent to a backend; backends get only their own configured secrets. This
// package knows nothing of the proxy or of dialects.
package auth
