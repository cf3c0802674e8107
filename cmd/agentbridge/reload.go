package main

import (
	"log/slog"
	"reflect"

	"github.com/agentbridge/agentbridge/config"
	"github.com/agentbridge/agentbridge/proxy"
)

// reloader is what reload needs of the running proxy.
type reloader interface {
	Reload(proxy.Config) error
}

// reload loads the configuration at path again (on SIGHUP) and hands it to
// srv. It is validated and built completely first: on any error the
// running configuration stays, the errors are logged, and reload returns
// old and prev. Auth providers, backends and routes whose settings did not
// change are reused (prev), so a JWKS cache stays warm and tickets already
// minted stay valid. Live sessions finish on the configuration they started
// with; settings only a restart applies are named in a warning.
func reload(path string, old *config.File, prev *built, srv reloader, logger *slog.Logger) (*config.File, *built) {
	logger.Info("reloading configuration", "path", path)
	f, err := config.Load(path, dialects)
	if err != nil {
		logger.Error("configuration not reloaded; the running one stays", "path", path, "err", err.Error())
		return old, prev
	}
	for _, w := range f.Warnings {
		logger.Warn("configuration: " + w.String())
	}
	pcfg, next, err := buildReusing(f, dialects, logger, prev)
	if err == nil {
		err = srv.Reload(pcfg)
	}
	if err != nil {
		logger.Error("configuration not reloaded; the running one stays", "path", path, "err", err.Error())
		return old, prev
	}
	if fields := restartOnly(old, f); len(fields) > 0 {
		logger.Warn("configuration reloaded, but these settings change only on restart", "settings", fields)
	}
	reused := 0
	for name, r := range next.routes {
		if o, ok := prev.routes[name]; ok && o.v == r.v {
			reused++
		}
	}
	logger.Info("configuration reloaded", "path", path, "routes", len(f.Routes), "routes_unchanged", reused, "backends", len(f.Backends))
	return f, next
}

// restartOnly names the top-level settings that differ between a and b and
// that the running proxy keeps until a restart: its listener, global
// limits, keepalive, drain, logging and debug endpoints.
func restartOnly(a, b *config.File) []string {
	var out []string
	for _, c := range []struct {
		name string
		x, y any
	}{
		{"listen", a.Listen, b.Listen},
		{"limits (global)", globalLimits(a.Limits), globalLimits(b.Limits)},
		{"keepalive", a.Keepalive, b.Keepalive},
		{"shutdown", a.Shutdown, b.Shutdown},
		{"log", a.Log, b.Log},
		{"debug", a.Debug, b.Debug},
		{"tls (the files themselves are read again when they change)", a.TLS, b.TLS},
		{"admin", a.Admin, b.Admin},
	} {
		if !reflect.DeepEqual(c.x, c.y) {
			out = append(out, c.name)
		}
	}
	return out
}

// globalLimits are the limits the server itself applies (the others are
// per route, and a reload applies them to new sessions).
func globalLimits(l config.Limits) [5]int64 {
	return [5]int64{int64(l.MaxConnections), int64(l.MaxConnectionsPerIP), int64(l.MaxHeaderBytes), int64(l.HandshakeTimeout), int64(l.MaxConversations)}
}
