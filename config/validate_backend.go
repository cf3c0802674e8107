package config

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// backendKeys lists the backend dialects that use each key.
var backendKeys = map[string][]string{
	"url":               {"plain", "connic"},
	"dial_timeout":      {"plain", "connic", "wiro"},
	"handshake_timeout": {"plain", "connic", "wiro"},
	"secret":            {"connic"},
	"secret_in":         {"connic"},
	"api_url":           {"wiro"},
	"socket_url":        {"wiro"},
	"api_key":           {"wiro"},
	"useragent_guid":    {"wiro"},
	"chunked":           {"plain"},
	"end_marker":        {"plain"},
	"idle_gap":          {"plain"},
	"demo":              {"demo"},
	"forward_identity":  {"plain", "connic", "wiro"},
}

// backend checks one backend. It returns nil when the dialect is unknown.
func (l *loader) backend(name string, r *rawBackend) *Backend {
	path := "backends." + name
	line, _ := l.idx.pos(path)
	if !validName(name) {
		l.at(path, "invalid backend name %q: use letters, digits, _, - and .", name)
	}
	if r == nil {
		l.at(path, "empty backend: give it a dialect (demo, plain, connic or wiro)")
		return nil
	}
	if absent(&r.Dialect) {
		l.at(path+".dialect", "required: one of demo, plain, connic, wiro")
		return nil
	}
	dialect, ok := l.oneOf(&r.Dialect, path+".dialect", "backend dialect", "demo", "plain", "connic", "wiro")
	if !ok {
		return nil
	}
	b := defaultBackend(name, dialect, line)
	l.onlyKeys(r, path, "backend dialect", dialect, backendKeys)
	if dialect != "demo" {
		setIf(&b.DialTimeout)(l.timeout(&r.DialTimeout, path+".dial_timeout"))
		setIf(&b.HandshakeTimeout)(l.timeout(&r.HandshakeTimeout, path+".handshake_timeout"))
	}
	switch dialect {
	case "demo":
		if d := r.Demo; d != nil {
			setIf(&b.Demo.Pace)(l.nonNegative(&d.Pace, path+".demo.pace"))
			setIf(&b.Demo.Thinking)(l.boolean(&d.Thinking, path+".demo.thinking"))
			setIf(&b.Demo.Prefix)(l.str(&d.Prefix, path+".demo.prefix"))
		}
	case "plain":
		l.backendURL(r, path, b)
		l.chunking(r, path, b)
	case "connic":
		l.backendURL(r, path, b)
		if s, ok := l.str(&r.Secret, path+".secret"); ok && l.nonEmpty(&r.Secret, path+".secret", "secret", s) {
			b.Secret = s
		}
		if in, ok := l.oneOf(&r.SecretIn, path+".secret_in", "secret_in", "header", "query", "first_frame"); ok {
			b.SecretIn = in
			if absent(&r.Secret) {
				l.at(path+".secret_in", "has no effect without secret")
			}
		}
	case "wiro":
		l.wiro(r, path, b)
	}
	if f := r.ForwardIdentity; f != nil {
		if absent(&f.Header) {
			l.at(path+".forward_identity.header", "required: the header that carries the client's identity, like X-Agent-User")
		} else if h, ok := l.str(&f.Header, path+".forward_identity.header"); ok {
			if !validHeaderName(h) {
				l.problem(&f.Header, path+".forward_identity.header", "invalid header name %q", h)
			} else {
				b.ForwardIdentity = h
			}
		}
	}
	return b
}

func (l *loader) backendURL(r *rawBackend, path string, b *Backend) {
	if absent(&r.URL) {
		l.at(path+".url", "required: the backend's WebSocket URL, like ws://127.0.0.1:9001/ws")
	} else if u, ok := l.str(&r.URL, path+".url"); ok && l.checkURL(&r.URL, path+".url", u, "ws", "wss") {
		b.URL = u
	}
}

func (l *loader) chunking(r *rawBackend, path string, b *Backend) {
	setIf(&b.Chunked)(l.boolean(&r.Chunked, path+".chunked"))
	setIf(&b.EndMarker)(l.str(&r.EndMarker, path+".end_marker"))
	gap, hasGap := l.timeout(&r.IdleGap, path+".idle_gap")
	if !b.Chunked && b.EndMarker != "" {
		l.at(path+".end_marker", `only used with "chunked: true": without it every message is a whole reply`)
	}
	if !b.Chunked && hasGap {
		l.at(path+".idle_gap", `only used with "chunked: true": without it every message is a whole reply`)
	} else if b.EndMarker != "" && hasGap {
		l.at(path+".idle_gap", "not used when end_marker is set: a reply ends at the marker")
	}
	if b.Chunked && b.EndMarker == "" {
		b.IdleGap = idleGapDefault
		if hasGap {
			b.IdleGap = gap
		}
	}
}

func (l *loader) wiro(r *rawBackend, path string, b *Backend) {
	if absent(&r.APIURL) {
		l.at(path+".api_url", "required: the http(s) base URL of the Wiro REST API")
	} else if u, ok := l.str(&r.APIURL, path+".api_url"); ok && l.checkURL(&r.APIURL, path+".api_url", u, "http", "https") && l.noParams(&r.APIURL, path+".api_url", u) {
		b.APIURL = u
	}
	if absent(&r.SocketURL) {
		l.at(path+".socket_url", "required: the ws(s) URL of the Wiro socket")
	} else if u, ok := l.str(&r.SocketURL, path+".socket_url"); ok && l.checkURL(&r.SocketURL, path+".socket_url", u, "ws", "wss") && l.noParams(&r.SocketURL, path+".socket_url", u) {
		b.SocketURL = u
	}
	if absent(&r.APIKey) {
		l.at(path+".api_key", `required: the Wiro API key, like "${WIRO_KEY}"`)
	} else if s, ok := l.str(&r.APIKey, path+".api_key"); ok && l.nonEmpty(&r.APIKey, path+".api_key", "api_key", s) {
		b.APIKey = s
	}
	if absent(&r.UserAgentGUID) {
		l.at(path+".useragent_guid", "required: the GUID of the Wiro agent to talk to")
	} else if s, ok := l.str(&r.UserAgentGUID, path+".useragent_guid"); ok && l.nonEmpty(&r.UserAgentGUID, path+".useragent_guid", "useragent_guid", s) {
		b.UserAgentGUID = s
	}
}

// noParams refuses a "{param}" placeholder in a URL the proxy never fills
// in: a Wiro backend's socket and API are shared by every session of every
// route, so no one route's parameters can name them, and the placeholder
// would reach the backend as "%7Bparam%7D".
func (l *loader) noParams(n *yaml.Node, path, s string) bool {
	if names := placeholders(s); len(names) > 0 {
		l.problem(n, path, "{%s}: route parameters are not filled in here, because a Wiro backend's socket and API are shared by every route and session", names[0])
		return false
	}
	return true
}

// placeholders returns the names of the "{param}" placeholders in s.
func placeholders(s string) []string {
	var names []string
	for rest := s; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return names
		}
		rest = rest[i+1:]
		if name, _, ok := strings.Cut(rest, "}"); ok && validParam(name) {
			names = append(names, name)
		}
	}
}
