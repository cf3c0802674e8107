package config

import (
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// The raw types mirror the YAML schema. yaml.v3 decodes them with
// KnownFields(true), so a key they do not declare is an error, except in a
// route or backend: there the dialects' own keys land in an inline map and
// are checked against the dialect table (dialects.go). Every leaf is
// kept as a yaml.Node so that ${VAR} expansion runs before a value is
// converted, and so every message can name the value's line and column.
// A leaf whose Kind is 0 was absent from the file.

type rawFile struct {
	Version   yaml.Node               `yaml:"version"`
	Listen    yaml.Node               `yaml:"listen"`
	PublicURL yaml.Node               `yaml:"public_url"`
	Limits    *rawLimits              `yaml:"limits"`
	Keepalive *rawKeepalive           `yaml:"keepalive"`
	Shutdown  *rawShutdown            `yaml:"shutdown"`
	Log       *rawLog                 `yaml:"log"`
	Debug     *rawDebug               `yaml:"debug"`
	TLS       *rawTLS                 `yaml:"tls"`
	Admin     *rawAdmin               `yaml:"admin"`
	Auth      map[string]*rawProvider `yaml:"auth"`
	Backends  map[string]*rawBackend  `yaml:"backends"`
	Routes    []*rawRoute             `yaml:"routes"`
}

type rawLimits struct {
	MaxMessage       yaml.Node `yaml:"max_message"`
	MaxTurnText      yaml.Node `yaml:"max_turn_text"`
	MaxPending       yaml.Node `yaml:"max_pending"`
	MaxHeaderBytes   yaml.Node `yaml:"max_header_bytes"`
	HandshakeTimeout yaml.Node `yaml:"handshake_timeout"`
	WriteTimeout     yaml.Node `yaml:"write_timeout"`

	MaxConnections      yaml.Node `yaml:"max_connections"`
	MaxConnectionsPerIP yaml.Node `yaml:"max_connections_per_ip"`
	MessageRate         yaml.Node `yaml:"message_rate"`
	MessageBurst        yaml.Node `yaml:"message_burst"`
	ControlRate         yaml.Node `yaml:"control_rate"`
	MaxConversations    yaml.Node `yaml:"max_conversations"`
}

type rawKeepalive struct {
	PingInterval yaml.Node `yaml:"ping_interval"`
	PongTimeout  yaml.Node `yaml:"pong_timeout"`
}

type rawShutdown struct {
	DrainTimeout yaml.Node `yaml:"drain_timeout"`
}

type rawTLS struct {
	CertFile yaml.Node `yaml:"cert_file"`
	KeyFile  yaml.Node `yaml:"key_file"`
}

type rawAdmin struct {
	Listen yaml.Node `yaml:"listen"`
	Auth   yaml.Node `yaml:"auth"`
}

type rawDebug struct {
	Expvar yaml.Node `yaml:"expvar"`
	Pprof  yaml.Node `yaml:"pprof"`
}

type rawLog struct {
	Level  yaml.Node `yaml:"level"`
	Format yaml.Node `yaml:"format"`
}

type rawProvider struct {
	Type yaml.Node `yaml:"type"`

	Secrets yaml.Node `yaml:"secrets"`

	TTL       yaml.Node `yaml:"ttl"`
	IssueWith yaml.Node `yaml:"issue_with"`

	Algorithms           yaml.Node `yaml:"algorithms"`
	Secret               yaml.Node `yaml:"secret"`
	KeyFiles             yaml.Node `yaml:"key_files"`
	JWKSURL              yaml.Node `yaml:"jwks_url"`
	Issuer               yaml.Node `yaml:"issuer"`
	Audience             yaml.Node `yaml:"audience"`
	Leeway               yaml.Node `yaml:"leeway"`
	AllowExpiredSessions yaml.Node `yaml:"allow_expired_sessions"`

	Header         yaml.Node `yaml:"header"`
	TrustedProxies yaml.Node `yaml:"trusted_proxies"`
}

type rawBackend struct {
	Dialect          yaml.Node `yaml:"dialect"`
	URL              yaml.Node `yaml:"url"`
	DialTimeout      yaml.Node `yaml:"dial_timeout"`
	HandshakeTimeout yaml.Node `yaml:"handshake_timeout"`
	CAFile           yaml.Node `yaml:"ca_file"`

	Demo *rawDemo `yaml:"demo"`

	ForwardIdentity *rawForward `yaml:"forward_identity"`

	// Keys holds every other key: the dialects' own (Dialect.BackendKeys),
	// checked once the backend's dialect is known.
	Keys map[string]yaml.Node `yaml:",inline"`
}

type rawForward struct {
	Header yaml.Node `yaml:"header"`
}

type rawDemo struct {
	Pace     yaml.Node `yaml:"pace"`
	Thinking yaml.Node `yaml:"thinking"`
	Prefix   yaml.Node `yaml:"prefix"`
}

type rawRoute struct {
	Name    yaml.Node   `yaml:"name"`
	Path    yaml.Node   `yaml:"path"`
	Dialect yaml.Node   `yaml:"dialect"`
	Auth    yaml.Node   `yaml:"auth"`
	Backend yaml.Node   `yaml:"backend"`
	Origins yaml.Node   `yaml:"origins"`
	Session *rawSession `yaml:"session"`
	Limits  *rawLimits  `yaml:"limits"`

	// Keys holds every other key: the dialects' own (Dialect.RouteKeys).
	Keys map[string]yaml.Node `yaml:",inline"`
}

type rawSession struct {
	Streaming    yaml.Node `yaml:"streaming"`
	Timeout      yaml.Node `yaml:"timeout"`
	MaxMessages  yaml.Node `yaml:"max_messages"`
	ResumeWindow yaml.Node `yaml:"resume_window"`
	ResumeEvents yaml.Node `yaml:"resume_events"`
	ResumeBytes  yaml.Node `yaml:"resume_bytes"`
}

// rawTypes lets messages about yaml.v3 errors, which name Go types, speak
// of the YAML section instead and list the keys it accepts.
var rawTypes = map[string]reflect.Type{}

func init() {
	for _, v := range []any{rawFile{}, rawLimits{}, rawKeepalive{}, rawShutdown{}, rawLog{},
		rawProvider{}, rawBackend{}, rawDemo{}, rawRoute{}, rawSession{}} {
		t := reflect.TypeOf(v)
		rawTypes[t.String()] = t
	}
}

// keysOf lists the YAML keys a raw type declares, in declaration order
// (not those of an inline map).
func keysOf(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if k, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// presentKeys lists the keys written in a raw struct, in declaration order,
// then those of an inline map, sorted.
func presentKeys(v any) []string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	t := rv.Type()
	var keys, extra []string
	for i := range t.NumField() {
		f := rv.Field(i)
		if m, ok := f.Interface().(map[string]yaml.Node); ok {
			for _, k := range sortedKeys(m) {
				if n := m[k]; !absent(&n) {
					extra = append(extra, k)
				}
			}
			continue
		}
		present := false
		switch x := f.Interface().(type) {
		case yaml.Node:
			present = !absent(&x)
		default:
			present = !f.IsZero()
		}
		if present {
			k, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			keys = append(keys, k)
		}
	}
	return append(keys, extra...)
}
