package translators

import "time"

// A dialect declares the configuration keys its routes and backends take
// (Dialect.RouteKeys, Dialect.BackendKeys). The configuration checks each
// written value against its Key, fills in defaults, rejects keys that no
// dialect of the route or backend declares, and hands the values to the
// dialect as Settings; the dialect turns them into codec Options and an
// Endpoint. So a new dialect's keys are written in its own package only.

// KeyKind is the type of a configuration key's value.
type KeyKind uint8

const (
	// KeyString is any text.
	KeyString KeyKind = iota + 1
	// KeySecret is text that must not be empty and is never printed.
	KeySecret
	// KeyBool is true or false.
	KeyBool
	// KeyDuration is a Go duration greater than 0, like 500ms.
	KeyDuration
	// KeySize is a byte count greater than 0, like 64KiB.
	KeySize
	// KeyCount is a whole number greater than 0.
	KeyCount
	// KeyEnum is one of Key.Values.
	KeyEnum
	// KeyURL is an absolute URL naming a host, with one of the schemes in
	// Key.Values. It is printed with its credentials redacted. Route
	// parameters ("{param}") are never filled in: only a backend's url
	// has them.
	KeyURL
)

// A Key declares one configuration key of a dialect.
type Key struct {
	// Name is the key as written in the file ("chunked").
	Name string
	// Kind is the type of its value.
	Kind KeyKind
	// Values are the accepted values of a KeyEnum and the accepted
	// schemes of a KeyURL, the preferred one first.
	Values []string
	// Default is the value of an absent key, written as in a file
	// ("500ms", "header"); empty means the kind's zero value.
	Default string
	// Required makes an absent or empty value a problem, reported as
	// "required: " + Doc.
	Required bool
	// Doc says what the key is, in one line ("the ws(s) URL of the Wiro
	// socket").
	Doc string
	// What names the value in messages ("unknown reply mode"); the key's
	// name when empty.
	What string
}

// Setting is the resolved value of one key.
type Setting struct {
	// Value is a string (KeyString, KeySecret, KeyEnum, KeyURL), a bool, a
	// time.Duration, an int64 (KeySize) or an int (KeyCount).
	Value any
	// Kind is the declared kind, so that a value can be printed safely.
	Kind KeyKind
	// Written says the file set the key to a valid value; false for a
	// default.
	Written bool
}

// Settings are the values of a dialect's keys for one route or backend, by
// key name. The configuration puts every declared key in, written or
// defaulted; reading a key that is not there gives the zero value.
type Settings map[string]Setting

// String returns the value of a text key (string, secret, enum, URL).
func (s Settings) String(key string) string { v, _ := s[key].Value.(string); return v }

// Bool returns the value of a KeyBool.
func (s Settings) Bool(key string) bool { v, _ := s[key].Value.(bool); return v }

// Duration returns the value of a KeyDuration.
func (s Settings) Duration(key string) time.Duration {
	v, _ := s[key].Value.(time.Duration)
	return v
}

// Size returns the value of a KeySize, in bytes.
func (s Settings) Size(key string) int64 { v, _ := s[key].Value.(int64); return v }

// Count returns the value of a KeyCount.
func (s Settings) Count(key string) int { v, _ := s[key].Value.(int); return v }

// Written reports whether the file set key (to a valid value).
func (s Settings) Written(key string) bool { return s[key].Written }

// KeyError is a problem with one key's value in the light of the others
// ("end_marker is only used with chunked: true"). A dialect's CheckRoute or
// CheckBackend returns them; the configuration reports each at the key's
// line.
type KeyError struct {
	Key string
	Msg string
}

func (e KeyError) Error() string { return e.Key + ": " + e.Msg }

// Endpoint is how the proxy reaches one backend of a dialect, resolved from
// the backend's configuration by Dialect.Endpoint.
type Endpoint struct {
	// URL is the backend's WebSocket URL; "{param}" placeholders are
	// filled in per session from the route's path.
	URL string
	// Secret is the backend's own credential, never a client's, presented
	// as SecretIn says.
	Secret string
	// SecretIn is where Secret goes: "header" (the default: AuthHeader,
	// or "Authorization: Bearer"), "query" (AuthQuery, or access_token)
	// or "first_frame" (Options.Secret, for an InBand dialect).
	SecretIn string
	// IdleGap, when not zero, ends a reply of several messages after that
	// much silence (Options.Chunked without an end marker).
	IdleGap time.Duration
	// APIURL, APIKey and AgentID address a REST dialect's API (Wiro): its
	// base URL, the key presented in AuthHeader, and the agent that sends
	// go to. URL is then the socket replies are read from.
	APIURL, APIKey, AgentID string
	// Options configure the backend-side codec; the proxy sets Role.
	Options Options
}
