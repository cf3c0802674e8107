package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/agentbridge/agentbridge/config"
	"github.com/agentbridge/agentbridge/demo"
	"github.com/agentbridge/agentbridge/proxy"
	"github.com/agentbridge/agentbridge/translators"
)

// build turns a loaded configuration into the proxy's. It fails on what the
// configuration allows but this build cannot do (a dialect or an auth type
// not compiled in).
func build(f *config.File, logger *slog.Logger) (proxy.Config, error) {
	pc := proxy.Config{
		PingInterval:     f.Keepalive.PingInterval,
		PongTimeout:      f.Keepalive.PongTimeout,
		DrainTimeout:     f.Shutdown.DrainTimeout,
		HandshakeTimeout: f.Limits.HandshakeTimeout,
		MaxHeaderBytes:   f.Limits.MaxHeaderBytes,
		Logger:           logger,
	}
	backends := make(map[string]*proxy.Backend, len(f.Backends))
	for name, b := range f.Backends {
		pb, err := buildBackend(b)
		if err != nil {
			return pc, fmt.Errorf("backend %q (line %d): %w", name, b.Line, err)
		}
		backends[name] = pb
	}
	for _, r := range f.Routes {
		client, ok := dialects[r.Dialect]
		if !ok {
			return pc, fmt.Errorf("route %q (line %d): dialect %q is not available in this build (have: %s)", r.Name, r.Line, r.Dialect, dialectNames())
		}
		if !r.AuthNone {
			for _, name := range r.Auth {
				p := f.Auth[name]
				if p != nil && p.Type != "none" {
					return pc, fmt.Errorf("route %q (line %d): auth provider %q of type %q is not available in this build yet", r.Name, r.Line, name, p.Type)
				}
			}
		}
		rt := &proxy.Route{
			Name:    r.Name,
			Path:    r.Path,
			Client:  client,
			Backend: backends[r.Backend],
			Origins: r.Origins,
			Limits: proxy.Limits{
				MaxMessage:   r.Limits.MaxMessage,
				MaxTurnText:  int(r.Limits.MaxTurnText),
				MaxPending:   r.Limits.MaxPending,
				WriteTimeout: r.Limits.WriteTimeout,
			},
			Session: proxy.Session{Timeout: r.Session.Timeout, MaxMessages: r.Session.MaxMessages},
		}
		rt.ClientOptions.EndMarker = r.EndMarker
		switch r.Reply {
		case "stream":
			rt.ClientOptions.Reply = translators.ReplyStream
		case "whole":
			rt.ClientOptions.Reply = translators.ReplyWhole
		}
		if !r.Session.Streaming {
			rt.ClientOptions.Reply = translators.ReplyWhole
		}
		pc.Routes = append(pc.Routes, rt)
	}
	return pc, nil
}

func buildBackend(b *config.Backend) (*proxy.Backend, error) {
	pb := &proxy.Backend{
		Name:             b.Name,
		URL:              b.URL,
		DialTimeout:      b.DialTimeout,
		HandshakeTimeout: b.HandshakeTimeout,
		IdleGap:          b.IdleGap,
	}
	if b.Dialect == "demo" {
		agent := &demo.Agent{Name: b.Name, Pace: b.Demo.Pace, Thinking: b.Demo.Thinking, Prefix: b.Demo.Prefix}
		pb.Dialect = translators.Dialect{Name: "demo"}
		pb.Open = func(context.Context, []proxy.Param) (proxy.Upstream, error) {
			return agent.NewSession(), nil
		}
		return pb, nil
	}
	d, ok := dialects[b.Dialect]
	if !ok {
		return nil, fmt.Errorf("dialect %q is not available in this build (have: %s)", b.Dialect, dialectNames())
	}
	pb.Dialect = d
	pb.Options = translators.Options{Chunked: b.Chunked, EndMarker: b.EndMarker, Secret: b.Secret}
	return pb, nil
}
