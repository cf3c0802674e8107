package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/agentbridge/agentbridge/internal/redact"
)

// build converts and checks the raw file, section by section, then checks
// the names routes use. Problems are collected, never fatal.
func (l *loader) build(raw *rawFile) *File {
	f := defaultFile()

	if absent(&raw.Version) {
		l.at("version", `required: write "version: 1" at the top of the file`)
	} else if v, ok := l.str(&raw.Version, "version"); ok {
		if v != "1" {
			l.problem(&raw.Version, "version", "unsupported version %q: this build reads version 1", v)
		} else {
			f.Version = 1
		}
	}
	if s, ok := l.str(&raw.Listen, "listen"); ok {
		if l.hostPort(&raw.Listen, "listen", s) {
			f.Listen = s
		}
	}
	if s, ok := l.str(&raw.PublicURL, "public_url"); ok && s != "" && l.publicURL(&raw.PublicURL, s) {
		f.PublicURL = s
	}
	if raw.Limits != nil {
		l.limits(raw.Limits, "limits", &f.Limits)
	}
	if k := raw.Keepalive; k != nil {
		setIf(&f.Keepalive.PingInterval)(l.timeout(&k.PingInterval, "keepalive.ping_interval"))
		setIf(&f.Keepalive.PongTimeout)(l.timeout(&k.PongTimeout, "keepalive.pong_timeout"))
	}
	if s := raw.Shutdown; s != nil {
		setIf(&f.Shutdown.DrainTimeout)(l.timeout(&s.DrainTimeout, "shutdown.drain_timeout"))
	}
	if d := raw.Debug; d != nil {
		setIf(&f.Debug.Expvar)(l.boolean(&d.Expvar, "debug.expvar"))
		setIf(&f.Debug.Pprof)(l.boolean(&d.Pprof, "debug.pprof"))
	}
	if t := raw.TLS; t != nil {
		f.TLS = &TLS{}
		for _, k := range []struct {
			n    *yaml.Node
			name string
			dst  *string
		}{{&t.CertFile, "tls.cert_file", &f.TLS.CertFile}, {&t.KeyFile, "tls.key_file", &f.TLS.KeyFile}} {
			if absent(k.n) {
				l.at(k.name, "required: a PEM file (tls needs cert_file and key_file)")
			} else if s, ok := l.str(k.n, k.name); ok {
				*k.dst = s
			}
		}
	}
	if g := raw.Log; g != nil {
		setIf(&f.Log.Level)(l.oneOf(&g.Level, "log.level", "level", "debug", "info", "warn", "error"))
		setIf(&f.Log.Format)(l.oneOf(&g.Format, "log.format", "format", "text", "json"))
	}

	for _, name := range sortedKeys(raw.Auth) {
		if p := l.provider(name, raw.Auth[name]); p != nil {
			f.Auth[name] = p
		}
	}
	l.ticketRefs(f, raw)
	l.admin(f, raw)
	for _, name := range sortedKeys(raw.Backends) {
		if b := l.backend(name, raw.Backends[name]); b != nil {
			f.Backends[name] = b
		}
	}

	if len(raw.Routes) == 0 {
		l.at("routes", "required: list at least one route, like - {path: /chat, dialect: plain, auth: none, backend: demo}")
	}
	var at []int
	for i, rr := range raw.Routes {
		if r := l.route(f, raw, i, rr); r != nil {
			f.Routes = append(f.Routes, r)
			at = append(at, i)
		}
	}
	l.routeConflicts(f.Routes, at)
	return f
}

// setIf returns a function that stores v in *dst when ok, so that a
// defaulted field is replaced only by a valid written value.
func setIf[T any](dst *T) func(v T, ok bool) {
	return func(v T, ok bool) {
		if ok {
			*dst = v
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// limits applies the keys written in r over *dst.
func (l *loader) limits(r *rawLimits, path string, dst *Limits) {
	setIf(&dst.MaxMessage)(l.size(&r.MaxMessage, path+".max_message", math.MaxInt64))
	setIf(&dst.MaxTurnText)(l.size(&r.MaxTurnText, path+".max_turn_text", math.MaxInt64))
	setIf(&dst.MaxPending)(l.count(&r.MaxPending, path+".max_pending", math.MaxInt32))
	if v, ok := l.size(&r.MaxHeaderBytes, path+".max_header_bytes", math.MaxInt32); ok {
		dst.MaxHeaderBytes = int(v)
	}
	setIf(&dst.HandshakeTimeout)(l.timeout(&r.HandshakeTimeout, path+".handshake_timeout"))
	setIf(&dst.WriteTimeout)(l.timeout(&r.WriteTimeout, path+".write_timeout"))
	setIf(&dst.MessageRate)(l.count(&r.MessageRate, path+".message_rate", math.MaxInt32))
	setIf(&dst.MessageBurst)(l.count(&r.MessageBurst, path+".message_burst", math.MaxInt32))
	setIf(&dst.ControlRate)(l.count(&r.ControlRate, path+".control_rate", math.MaxInt32))
	setIf(&dst.MaxConversations)(l.count(&r.MaxConversations, path+".max_conversations", math.MaxInt32))
	global := path == "limits"
	for _, k := range []struct {
		n    *yaml.Node
		name string
		dst  *int
	}{{&r.MaxConnections, "max_connections", &dst.MaxConnections}, {&r.MaxConnectionsPerIP, "max_connections_per_ip", &dst.MaxConnectionsPerIP}} {
		if absent(k.n) {
			continue
		}
		if !global {
			l.problem(k.n, path+"."+k.name, "is a server-wide limit: set it under the top-level limits")
			continue
		}
		if k.name == "max_connections_per_ip" {
			// 0 is no limit: clients behind one load balancer share an address.
			setIf(k.dst)(l.countOrZero(k.n, path+"."+k.name, math.MaxInt32))
			continue
		}
		setIf(k.dst)(l.count(k.n, path+"."+k.name, math.MaxInt32))
	}
}

func (l *loader) hostPort(n *yaml.Node, path, s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err == nil {
		if p, e := strconv.ParseUint(port, 10, 16); e != nil || p > math.MaxUint16 {
			err = fmt.Errorf("bad port")
		}
	}
	if err != nil {
		l.problem(n, path, "invalid address %q: write host:port, like 127.0.0.1:8080 or :8080", s)
		return false
	}
	return true
}

// publicURL reports whether s is a public base URL: http(s), a host, and
// nothing that would be a credential or break the urls built on it.
func (l *loader) publicURL(n *yaml.Node, s string) bool {
	if !l.checkURL(n, "public_url", s, "https", "http") {
		return false
	}
	if u, _ := url.Parse(s); u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		l.problem(n, "public_url", "invalid URL %q: write only scheme, host and an optional path prefix, like https://agents.example.com", s)
		return false
	}
	return true
}

// checkURL reports whether s is an absolute URL with one of the schemes and
// a host. The problem shows s redacted: a URL may carry a token.
func (l *loader) checkURL(n *yaml.Node, path, s string, schemes ...string) bool {
	u, err := url.Parse(s)
	if err != nil || !slices.Contains(schemes, u.Scheme) || u.Host == "" {
		starts := make([]string, len(schemes))
		for i, sc := range schemes {
			starts[i] = sc + "://"
		}
		l.problem(n, path, "invalid URL %q: expected a URL starting with %s and naming a host, like %s127.0.0.1:9000/path", redact.URL(s), orList(starts), starts[0])
		return false
	}
	return true
}

// validName is the shape of provider and backend names.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// onlyKeys reports keys written in v that the given kind does not use.
// uses maps each key to the kinds that use it; keys missing from uses are
// allowed for every kind.
func (l *loader) onlyKeys(v any, path, what, kind string, uses map[string][]string) {
	for _, k := range presentKeys(v) {
		kinds, limited := uses[k]
		if limited && !slices.Contains(kinds, kind) {
			l.at(join(path, k), "not used by %s %s (only by %s)", what, kind, strings.Join(kinds, ", "))
		}
	}
}

// defined lists the names in m for messages about unknown names.
func defined[V any](what string, m map[string]V) string {
	if len(m) == 0 {
		return "no " + what + " are defined"
	}
	return "defined: " + strings.Join(sortedKeys(m), ", ")
}

// admin checks the admin block: a listener of its own, and providers that
// admit a scrape. Call it once f.Auth is filled.
func (l *loader) admin(f *File, raw *rawFile) {
	a := raw.Admin
	if a == nil {
		return
	}
	if s, ok := l.str(&a.Listen, "admin.listen"); ok && l.hostPort(&a.Listen, "admin.listen", s) {
		if s == f.Listen {
			l.problem(&a.Listen, "admin.listen", "the same address as listen: leave admin.listen out to serve /metrics there")
		} else {
			f.Admin.Listen = s
		}
	}
	names, ok := l.list(&a.Auth, "admin.auth")
	if !ok {
		return
	}
	for _, name := range names {
		p, known := f.Auth[name]
		_, written := raw.Auth[name]
		switch {
		case !known && written:
			// The provider exists but is broken; it was reported.
		case !known:
			l.problem(&a.Auth, "admin.auth", "unknown auth provider %q (%s)", name, defined("auth providers", raw.Auth))
		case p.Type == "ticket" || p.Type == "none":
			l.problem(&a.Auth, "admin.auth", "provider %q is of type %s: a scrape presents a secret, a JWT or a trusted header", name, p.Type)
		default:
			f.Admin.Auth = append(f.Admin.Auth, name)
		}
	}
}
