package config

import (
	"slices"
	"strings"

	"github.com/agentbridge/agentbridge/translators"
)

// backend checks one backend. It returns nil when the dialect is unknown.
func (l *loader) backend(name string, r *rawBackend) *Backend {
	path := "backends." + name
	line, _ := l.idx.pos(path)
	if !validName(name) {
		l.at(path, "invalid backend name %q: use letters, digits, _, - and .", name)
	}
	names := l.dialectNames(true)
	if r == nil {
		l.at(path, "empty backend: give it a dialect (%s)", orList(names))
		return nil
	}
	if absent(&r.Dialect) {
		l.at(path+".dialect", "required: one of %s", strings.Join(names, ", "))
		return nil
	}
	dialect, ok := l.oneOf(&r.Dialect, path+".dialect", "backend dialect", names...)
	if !ok {
		l.backendKeysUsed(r, path, "")
		return nil
	}
	b := defaultBackend(name, dialect, line)
	l.backendKeysUsed(r, path, dialect)
	if dialect == demoDialect {
		if d := r.Demo; d != nil {
			setIf(&b.Demo.Pace)(l.nonNegative(&d.Pace, path+".demo.pace"))
			setIf(&b.Demo.Thinking)(l.boolean(&d.Thinking, path+".demo.thinking"))
			setIf(&b.Demo.Prefix)(l.str(&d.Prefix, path+".demo.prefix"))
		}
		return b
	}
	d, _ := l.dialect(dialect)
	setIf(&b.DialTimeout)(l.timeout(&r.DialTimeout, path+".dial_timeout"))
	setIf(&b.HandshakeTimeout)(l.timeout(&r.HandshakeTimeout, path+".handshake_timeout"))
	setIf(&b.CAFile)(l.str(&r.CAFile, path+".ca_file"))
	if usesURL(d) {
		l.backendURL(r, path, b)
	}
	b.Settings = l.settings(d, d.BackendKeys, r.Keys, path, d.CheckBackend)
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

// usesURL: a backend has the url key unless its dialect is a REST one
// (Wiro), whose socket and API are its own keys.
func usesURL(d translators.Dialect) bool { return d.REST == nil }

// backendKeysUsed reports the keys written in r that a backend of dialect
// does not use: another dialect's, or no dialect's. With dialect "" (not
// known) it reports only the keys of no dialect.
func (l *loader) backendKeysUsed(r *rawBackend, path, dialect string) {
	d, _ := l.dialect(dialect)
	var accepted []string
	for _, k := range keysOf(rawTypes["config.rawBackend"]) {
		if dialect == "" || slices.Contains(l.backendKeyUsers(k), dialect) {
			accepted = append(accepted, k)
		}
	}
	accepted = l.appendKeys(accepted, d, dialect == "", backendKeys)
	for _, k := range presentKeys(r) {
		users := l.backendKeyUsers(k)
		if _, dialectKey := r.Keys[k]; dialectKey {
			users = l.declaredBy(k, backendKeys)
		}
		switch {
		case slices.Contains(users, dialect):
		case len(users) == 0:
			l.unknownHere(path, k, accepted)
		case dialect != "":
			l.at(join(path, k), "not used by backend dialect %s (only by %s)", dialect, strings.Join(users, ", "))
		}
	}
}

// backendKeyUsers lists the backend dialects that use one of the keys
// every backend may have.
func (l *loader) backendKeyUsers(key string) []string {
	switch key {
	case "dialect":
		return l.dialectNames(true)
	case "demo":
		return []string{demoDialect}
	}
	var names []string
	for _, d := range l.dialects {
		if key != "url" || usesURL(d) {
			names = append(names, d.Name)
		}
	}
	return names
}

func (l *loader) backendURL(r *rawBackend, path string, b *Backend) {
	if absent(&r.URL) {
		l.at(path+".url", "required: the backend's WebSocket URL, like ws://127.0.0.1:9001/ws")
	} else if u, ok := l.str(&r.URL, path+".url"); ok && l.checkURL(&r.URL, path+".url", u, "ws", "wss") {
		b.URL = u
	}
}
