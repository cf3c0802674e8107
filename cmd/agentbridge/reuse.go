package main

import (
	"fmt"
	"os"

	"github.com/agentbridge/agentbridge/config"
	"github.com/agentbridge/agentbridge/proxy"
	"github.com/agentbridge/agentbridge/translators"
)

// built holds what one configuration built, each by the settings it was
// built from (its key), so that a reload reuses whatever did not change:
// an auth provider keeps its JWKS cache and the tickets it minted, a
// backend its shared socket (Wiro's), a route its conversations. Keys
// hold secrets; they stay in memory and are never printed.
type built struct {
	providers map[string]keyed[proxy.Authenticator]
	backends  map[string]keyed[*proxy.Backend]
	routes    map[string]keyed[*proxy.Route]
}

type keyed[T any] struct {
	key string
	v   T
}

func newBuilt() *built {
	return &built{
		providers: map[string]keyed[proxy.Authenticator]{},
		backends:  map[string]keyed[*proxy.Backend]{},
		routes:    map[string]keyed[*proxy.Route]{},
	}
}

// auth returns the provider p configures: prev's when prev (which may be
// nil) built it from the same settings, else a new one. It records it in
// next.
func (prev *built) auth(next *built, p *config.AuthProvider) (proxy.Authenticator, error) {
	c := *p
	c.Line = 0
	key := fmt.Sprintf("%#v", c)
	for _, f := range p.KeyFiles {
		// A key file rewritten in place is a change, as an edit of the file is.
		if fi, err := os.Stat(f); err == nil {
			key += fmt.Sprintf("|%s %d %d", f, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	if prev != nil {
		if old, ok := prev.providers[p.Name]; ok && old.key == key {
			next.providers[p.Name] = old
			return old.v, nil
		}
	}
	a, err := buildAuth(p)
	if err != nil {
		return nil, err
	}
	next.providers[p.Name] = keyed[proxy.Authenticator]{key, a}
	return a, nil
}

// backend returns the backend b configures, reused from prev when its
// settings and the global limits its shared socket takes are the same.
func (prev *built) backend(next *built, b *config.Backend, table []translators.Dialect, global config.Limits) (*proxy.Backend, error) {
	c := *b
	c.Line = 0
	key := fmt.Sprintf("%#v|%d|%d", c, global.MaxMessage, global.WriteTimeout)
	if fi, err := os.Stat(b.CAFile); b.CAFile != "" && err == nil {
		key += fmt.Sprintf("|%d %d", fi.Size(), fi.ModTime().UnixNano())
	}
	if prev != nil {
		if old, ok := prev.backends[b.Name]; ok && old.key == key {
			next.backends[b.Name] = old
			return old.v, nil
		}
	}
	pb, err := buildBackend(b, table)
	if err != nil {
		return nil, err
	}
	// A socket that the backend's routes share (Wiro's) takes the global
	// limits, not those of the route that happens to dial it.
	pb.MaxMessage, pb.WriteTimeout = global.MaxMessage, global.WriteTimeout
	next.backends[b.Name] = keyed[*proxy.Backend]{key, pb}
	return pb, nil
}

// route returns rt, built from r, or prev's route of the same name when it
// was built from the same settings, backend and providers (rt is then
// dropped). next holds r's backend and providers already.
func (prev *built) route(next *built, r *config.Route, rt *proxy.Route) *proxy.Route {
	c := *r
	c.Line = 0
	key := fmt.Sprintf("%#v|%s", c, next.backends[r.Backend].key)
	for _, name := range r.Auth {
		key += "|" + next.providers[name].key
	}
	if prev != nil {
		if old, ok := prev.routes[r.Name]; ok && old.key == key {
			next.routes[r.Name] = old
			return old.v
		}
	}
	next.routes[r.Name] = keyed[*proxy.Route]{key, rt}
	return rt
}
