package config

import (
	"time"

	"github.com/agentbridge/agentbridge/translators"
)

// File is a parsed, validated and defaulted agentbridge configuration. Every
// duration and size is resolved; every name a route uses exists. Secrets hold
// their expanded values: never log a File as is (see Redacted).
type File struct {
	Version   int
	Listen    string // host:port; default "127.0.0.1:8080"
	PublicURL string // where clients reach the proxy (http(s)://host[/prefix]), for ticket urls; "" = the address reached
	Limits    Limits
	Keepalive Keepalive
	Shutdown  Shutdown
	Log       Log
	Debug     Debug
	TLS       *TLS                     // TLS on the listener; nil = plain TCP
	Admin     Admin                    // where /metrics is served
	Auth      map[string]*AuthProvider // by name
	Backends  map[string]*Backend      // by name
	Routes    []*Route                 // in file order; first match wins

	// Warnings are problems that did not stop the file from loading, such
	// as an empty entry in a secret rotation list; report them to the user.
	Warnings []Problem
}

// Limits bound what one connection may do. Zero never appears in a loaded
// File: every field is defaulted.
type Limits struct {
	MaxMessage       int64         // bytes per message, across fragments; default 1 MiB
	MaxTurnText      int64         // bytes of one reply's text; default 1 MiB
	MaxPending       int           // user messages awaiting a reply per session; default 64
	MaxHeaderBytes   int           // request line + headers of a handshake; default 8 KiB
	HandshakeTimeout time.Duration // to read a client's handshake request; default 10s
	WriteTimeout     time.Duration // one write to a peer; default 5s

	MaxConnections      int // live client connections in all; default 10000 (global only)
	MaxConnectionsPerIP int // live client connections from one address; 0 = no limit (global only)
	MessageRate         int // client messages per second per connection, sustained; default 100
	MessageBurst        int // client messages allowed at once above the rate; default 200
	ControlRate         int // client control frames (pings) per second per connection; default 50
	MaxConversations    int // backend conversations of Wiro clients (one per sessionkey): global in all, and per route; default 10000
}

// Keepalive sets the WebSocket pings the proxy sends on both legs.
type Keepalive struct {
	PingInterval time.Duration // default 25s; a peer silent for PingInterval+PongTimeout is dead
	PongTimeout  time.Duration // default 10s
}

// Shutdown sets graceful shutdown.
type Shutdown struct {
	DrainTimeout time.Duration // default 10s: how long live replies may run after a stop
}

// TLS terminates TLS on the listener (TLS 1.2 and up, HTTP/1.1). The
// files are read again when they change, without a restart.
type TLS struct {
	CertFile string // PEM certificate chain, leaf first
	KeyFile  string // PEM private key
}

// Admin moves the operator endpoints (/metrics) off the main listener.
type Admin struct {
	Listen string   // host:port of a second listener; "" = /metrics on the main one
	Auth   []string // providers any of which must admit a scrape (Authorization: Bearer); empty = open
}

// Debug switches on diagnostic endpoints.
type Debug struct {
	Expvar bool // serve Go's expvar (memstats: allocations, GC) at /debug/vars; default false
	Pprof  bool // serve Go's profiles at /debug/pprof/; default false
}

// Log sets logging.
type Log struct {
	Level  string // debug, info (default), warn, error
	Format string // text (default) or json
}

// AuthProvider is one named provider. Type decides which fields are used.
type AuthProvider struct {
	Name string
	Type string // none, secret, ticket, jwt, trusted_header
	Line int    // where it is defined, for messages

	// secret
	Secrets []string // active secrets (several during rotation); non-empty

	// ticket
	TTL       time.Duration // default 30s
	IssueWith []string      // providers that authenticate POST /auth/tickets; non-empty, must exist, not tickets

	// jwt
	Algorithms           []string      // allow-list, e.g. [RS256]; non-empty; "none" is refused
	Secret               string        // HS* key (inline or ${ENV})
	KeyFiles             []string      // PEM public keys for RS*/ES*/EdDSA
	JWKSURL              string        // http(s) URL of a JWKS
	Issuer               string        // required iss when set
	Audience             string        // required aud when set
	Leeway               time.Duration // clock skew allowed; default 0
	AllowExpiredSessions bool          // keep connections open past the token's exp; default false

	// trusted_header
	Header         string   // e.g. X-Forwarded-User
	TrustedProxies []string // CIDRs; non-empty
}

// Backend is one named upstream agent.
type Backend struct {
	Name    string
	Dialect string // demo, or a dialect of the table given to Load
	Line    int

	URL              string        // ws:// or wss:// URL; none for a REST dialect (Wiro)
	DialTimeout      time.Duration // TCP connect; default 5s
	HandshakeTimeout time.Duration // WebSocket handshake and dialect handshake; default 10s
	CAFile           string        // PEM roots that verify a wss:// or https:// backend; "" = the system's

	// Settings hold the dialect's own keys (Dialect.BackendKeys), each
	// written or defaulted: Wiro's api_url, a plain backend's chunked.
	Settings translators.Settings

	// demo
	Demo Demo

	// ForwardIdentity, when set, is the request header that carries an
	// admitted client's identity (subject) to the backend. Nothing else of
	// the client's credentials is ever sent.
	ForwardIdentity string
}

// Demo configures the built-in demo agent.
type Demo struct {
	Pace     time.Duration // delay between words; default 40ms
	Thinking bool          // begin each reply with a short thinking block
	Prefix   string        // text before the echoed message; default "You said: "
}

// Route maps a path to a client dialect, auth and a backend.
type Route struct {
	Name     string   // unique; default the path
	Path     string   // exact ("/v1") or with :param segments ("/agents/:agent/:name")
	Dialect  string   // client dialect, from the table given to Load
	Auth     []string // provider names, any of which may admit a client; empty when AuthNone
	AuthNone bool     // `auth: none` written out
	Backend  string
	Origins  []string // allowed Origin values; empty = any (non-browser clients)
	Line     int

	Session Session
	Limits  Limits // global Limits with the route's overrides applied

	// Settings hold the client dialect's own keys (Dialect.RouteKeys),
	// each written or defaulted: a plain route's reply.
	Settings translators.Settings
}

// Session holds per-route session rules.
type Session struct {
	Streaming   bool          // stream replies (Connic stream_chunk) or send one response; default true
	Timeout     time.Duration // inactivity timeout; default 1h
	MaxMessages int           // user messages per session; default 100; -1 = no limit
	// ResumeWindow is how long a session whose client left is kept for a
	// client to resume it (a dialect that resumes: agents mid-reply,
	// openhands); default 30s, 0 = never kept.
	ResumeWindow time.Duration
	ResumeEvents int   // frames kept for a resuming client (openhands); default 1000
	ResumeBytes  int64 // and their bytes; default 1 MiB
}
