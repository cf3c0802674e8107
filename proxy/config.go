package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/agentbridge/agentbridge/translators"
)

// Config configures a Server. Zero durations and sizes mean the defaults
// stated on each field; New fills them in.
type Config struct {
	// Routes are matched in order; the first match wins. At least one.
	Routes []*Route
	// Tickets are the ticket providers POST /auth/tickets issues from.
	Tickets []*TicketIssuer
	// PublicURL is where clients reach the proxy, like
	// https://agents.example.com: the url of a ticket is built on it, with
	// http mapped to ws and https to wss. Empty means the address a caller
	// reached the proxy at (wss:// when that listener has TLS). A request's
	// Host header is never used.
	PublicURL string
	// PingInterval is how often the proxy pings each leg. Default 25s.
	PingInterval time.Duration
	// PongTimeout is how long a leg may stay silent after a ping before it
	// is taken for dead. Default 10s.
	PongTimeout time.Duration
	// DrainTimeout bounds how long Shutdown lets live replies finish before
	// every client gets 1001. Default 10s.
	DrainTimeout time.Duration
	// HandshakeTimeout bounds reading a client's handshake request.
	// Default 10s.
	HandshakeTimeout time.Duration
	// AuthTimeout bounds how long a client of an in-band dialect may take
	// to send its credential after the upgrade. Default 10s.
	AuthTimeout time.Duration
	// MaxConnections caps live client connections; more get 503 before the
	// upgrade. Default 10000.
	MaxConnections int
	// MaxConnectionsPerIP caps live client connections from one address;
	// more get 429. Zero means no limit (the default: clients behind one
	// load balancer share an address).
	MaxConnectionsPerIP int
	// MaxConversations caps the backend conversations open at once over
	// every route whose clients send over REST (Wiro): a send that would
	// open one more is refused with 503. Default 10000.
	MaxConversations int
	// MaxHeaderBytes bounds a handshake request's line and headers.
	// Default 8 KiB; larger requests get 431.
	MaxHeaderBytes int
	// Expvar serves Go's expvar (memstats: allocations, GC) at
	// /debug/vars. Off by default; turn it on for benchmarks and debugging,
	// not on a public listener.
	Expvar bool
	// Pprof serves Go's profiles at /debug/pprof/. Off by default; same
	// caution.
	Pprof bool
	// TLS, when not nil, terminates TLS on the listener Serve is given
	// (see CertFile for certificates read again when their files change).
	// The proxy sets MinVersion to TLS 1.2 when it is lower and offers
	// only HTTP/1.1 (ALPN http/1.1): WebSocket upgrades need it.
	TLS *tls.Config
	// MetricsOnAdmin serves /metrics only on the listener given to
	// ServeAdmin, not on the main one. Off by default: /metrics is on the
	// main listener.
	MetricsOnAdmin bool
	// AdminAuth, when not empty, lists the authenticators any of which
	// must admit a scrape of /metrics (Authorization: Bearer, or a trusted
	// header). Empty means /metrics is open.
	AdminAuth []Authenticator
	// Logger receives the proxy's logs. Nil means slog.Default(). Log
	// records never hold credentials.
	Logger *slog.Logger
}

// TicketIssuer is a ticket provider with the authenticators that may ask it
// for tickets. Routes that accept its tickets list Tickets in their Auth.
type TicketIssuer struct {
	Tickets interface {
		Authenticator
		Issue(route, path string) (ticket string, expires time.Time, err error)
	}
	IssueWith []Authenticator
}

// Route is one client-facing endpoint.
type Route struct {
	// Name identifies the route in logs and metrics.
	Name string
	// Path is an exact path or a pattern with ":param" segments.
	Path string
	// Client is the dialect clients speak on this route.
	Client translators.Dialect
	// ClientOptions configure the client-side codec (reply mode, agent
	// name). Role is set by the proxy.
	ClientOptions translators.Options
	// Backend is where the route's sessions go.
	Backend *Backend
	// Auth lists the authenticators any of which may admit a client. Empty
	// means the route is open (the configuration makes that explicit).
	Auth []Authenticator
	// Origins, when not empty, lists the Origin header values allowed to
	// connect ("*" allows any); others get 403 before the upgrade.
	Origins []string
	// Limits bound each connection. Zero fields take DefaultLimits.
	Limits Limits
	// Session sets per-session rules.
	Session Session
}

// Limits bound what one connection may do.
type Limits struct {
	// MaxMessage caps one message across its fragments, in bytes; a bigger
	// one closes the connection with 1009. Default 1 MiB.
	MaxMessage int64
	// MaxTurnText caps the text of one reply. Default 1 MiB.
	MaxTurnText int
	// MaxPending caps user messages waiting for a reply. Default 64.
	MaxPending int
	// WriteTimeout bounds one write to a peer; a peer that does not read
	// for that long is closed. Default 5s.
	WriteTimeout time.Duration
	// MessageRate caps a client's messages per second (sustained), with
	// MessageBurst more at once; past it the client gets an error and
	// 1008. Default 100 and 200; -1 means no limit.
	MessageRate, MessageBurst int
	// ControlRate caps a client's control frames (pings) per second; past
	// it, 1008. Default 50; -1 means no limit.
	ControlRate int
	// MaxConversations caps the backend conversations a route whose
	// clients send over REST (Wiro) keeps open at once (one per session
	// key, until Session.Timeout without a message); a send that would
	// open one more is refused with 429. Default 10000.
	MaxConversations int
}

// DefaultLimits are the limits used for zero fields.
var DefaultLimits = Limits{
	MaxMessage:   1 << 20,
	MaxTurnText:  1 << 20,
	MaxPending:   64,
	WriteTimeout: 5 * time.Second,
	MessageRate:  100,
	MessageBurst: 200,
	ControlRate:  50,

	MaxConversations: 10000,
}

// Session holds per-session rules.
type Session struct {
	// Timeout closes a session without a user message for that long.
	// Default 1h.
	Timeout time.Duration
	// MaxMessages closes a session after that many user messages.
	// Default 100; -1 means no limit.
	MaxMessages int
	// ResumeWindow is how long a session whose client left stays for a
	// client to resume it (a client dialect with Replayed, mid-reply; one
	// with Resume, always); 0 keeps none. ResumeEvents and ResumeBytes
	// bound the frames kept for a Resume dialect's clients.
	ResumeWindow time.Duration
	ResumeEvents int
	ResumeBytes  int64
}

// Backend is an upstream agent.
type Backend struct {
	// Name identifies the backend in logs.
	Name string
	// Dialect is the dialect the backend speaks.
	Dialect translators.Dialect
	// Options configure the backend-side codec (chunked replies, in-band
	// secret). Role is set by the proxy.
	Options translators.Options
	// URL is the backend's WebSocket URL (ws:// or wss://). "{param}"
	// placeholders are replaced by the route's matched parameters.
	URL string
	// Header holds extra handshake headers for the backend, such as its
	// configured secret. Never a client's credentials.
	Header map[string]string
	// IdentityHeader, when set, carries an admitted client's identity
	// (its subject) to the backend.
	IdentityHeader string
	// DialTimeout bounds the TCP connect. Default 5s.
	DialTimeout time.Duration
	// HandshakeTimeout bounds the WebSocket handshake and, for dialects
	// with a handshake of their own, waiting for the backend to be ready.
	// Default 10s.
	HandshakeTimeout time.Duration
	// IdleGap ends a chunked reply that has no end marker after that much
	// silence. Default 500ms; used only with Options.Chunked.
	IdleGap time.Duration
	// APIURL is the base URL of the REST API of a backend whose dialect
	// sends messages over REST (Wiro); URL is then its socket.
	APIURL string
	// APIKey is presented to such a backend's REST API in the dialect's
	// auth header. The backend's own key, never a client's.
	APIKey string
	// AgentID names the agent addressed in REST sends
	// (translators.SendRequest.Agent).
	AgentID string
	// MaxMessage and WriteTimeout bound the socket that every route to a
	// REST backend shares (Wiro's): one message read from it, one write
	// to it. A route's Limits bound its own clients only. Defaults 1 MiB
	// and 5s, as DefaultLimits.
	MaxMessage   int64
	WriteTimeout time.Duration
	// RootCAs verify the certificate of a wss:// or https:// backend. Nil
	// means the system's roots.
	RootCAs *x509.CertPool
	// Open, when not nil, makes an in-process upstream (the demo agent)
	// instead of dialing URL.
	Open func(ctx context.Context, params []Param) (Upstream, error)

	urlOnce sync.Once // parses URL once (parseURL)
	url     *url.URL
	urlErr  error
}

func (c *Config) setDefaults() {
	if c.PingInterval <= 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PongTimeout <= 0 {
		c.PongTimeout = 10 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 10 * time.Second
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 10 * time.Second
	}
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = 10 * time.Second
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = 10000
	}
	if c.MaxConversations <= 0 {
		c.MaxConversations = DefaultLimits.MaxConversations
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 8 << 10
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (l *Limits) setDefaults() {
	if l.MaxMessage <= 0 {
		l.MaxMessage = DefaultLimits.MaxMessage
	}
	if l.MaxTurnText <= 0 {
		l.MaxTurnText = DefaultLimits.MaxTurnText
	}
	if l.MaxPending <= 0 {
		l.MaxPending = DefaultLimits.MaxPending
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultLimits.WriteTimeout
	}
	if l.MessageRate == 0 {
		l.MessageRate = DefaultLimits.MessageRate
	}
	if l.MessageBurst == 0 {
		l.MessageBurst = DefaultLimits.MessageBurst
	}
	if l.ControlRate == 0 {
		l.ControlRate = DefaultLimits.ControlRate
	}
	if l.MaxConversations <= 0 {
		l.MaxConversations = DefaultLimits.MaxConversations
	}
}

func (s *Session) setDefaults() {
	if s.Timeout <= 0 {
		s.Timeout = time.Hour
	}
	if s.MaxMessages == 0 {
		s.MaxMessages = 100
	}
}

func (b *Backend) setDefaults() {
	if b.DialTimeout <= 0 {
		b.DialTimeout = 5 * time.Second
	}
	if b.HandshakeTimeout <= 0 {
		b.HandshakeTimeout = 10 * time.Second
	}
	if b.IdleGap <= 0 {
		b.IdleGap = 500 * time.Millisecond
	}
	if b.MaxMessage <= 0 {
		b.MaxMessage = DefaultLimits.MaxMessage
	}
	if b.WriteTimeout <= 0 {
		b.WriteTimeout = DefaultLimits.WriteTimeout
	}
}
