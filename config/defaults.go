package config

import "time"

// Defaults. Each section of a File starts from these values and the keys
// written in the file replace them one by one; validation rejects written
// values that are out of range, so a loaded File never holds an unset zero
// where a default exists. A route's Limits start from the file's global
// Limits, so a route override changes only the keys it names. A dialect's
// own keys take the defaults it declares (translators.Key.Default).

// DefaultListen is the address used when the file has no listen key.
const DefaultListen = "127.0.0.1:8080"

func defaultLimits() Limits {
	return Limits{
		MaxMessage:       1 << 20,
		MaxTurnText:      1 << 20,
		MaxPending:       64,
		MaxHeaderBytes:   8 << 10,
		HandshakeTimeout: 10 * time.Second,
		WriteTimeout:     5 * time.Second,

		MaxConnections: 10000,
		MessageRate:    100,
		MessageBurst:   200,
		ControlRate:    50,

		MaxConversations: 10000,
	}
}

func defaultFile() *File {
	return &File{
		Listen:    DefaultListen,
		Limits:    defaultLimits(),
		Keepalive: Keepalive{PingInterval: 25 * time.Second, PongTimeout: 10 * time.Second},
		Shutdown:  Shutdown{DrainTimeout: 10 * time.Second},
		Log:       Log{Level: "info", Format: "text"},
		Auth:      map[string]*AuthProvider{},
		Backends:  map[string]*Backend{},
	}
}

func defaultProvider(name, typ string, line int) *AuthProvider {
	p := &AuthProvider{Name: name, Type: typ, Line: line}
	if typ == "ticket" {
		p.TTL = 30 * time.Second
	}
	return p
}

func defaultBackend(name, dialect string, line int) *Backend {
	b := &Backend{Name: name, Dialect: dialect, Line: line}
	if dialect == "demo" {
		b.Demo = Demo{Pace: 40 * time.Millisecond, Prefix: "You said: "}
	} else {
		b.DialTimeout = 5 * time.Second
		b.HandshakeTimeout = 10 * time.Second
	}
	return b
}

func defaultRoute(f *File, line int) *Route {
	return &Route{
		Line:   line,
		Limits: f.Limits,
		Session: Session{Streaming: true, Timeout: time.Hour, MaxMessages: 100,
			ResumeWindow: 30 * time.Second, ResumeEvents: 1000, ResumeBytes: 1 << 20},
	}
}
