package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/agentbridge/agentbridge/auth"
	"github.com/agentbridge/agentbridge/config"
	"github.com/agentbridge/agentbridge/demo"
	"github.com/agentbridge/agentbridge/proxy"
	"github.com/agentbridge/agentbridge/translators"
)

// build turns a configuration loaded with the dialect table into the
// proxy's. It fails on what the configuration allows but this build cannot
// do (a dialect or an auth type not compiled in).
func build(f *config.File, table []translators.Dialect, logger *slog.Logger) (proxy.Config, error) {
	pc, _, err := buildReusing(f, table, logger, nil)
	return pc, err
}

// buildReusing is build that takes from prev (nil: nothing) every auth
// provider, backend and route built from the same settings, and returns
// what this configuration built, for the next reload to reuse.
func buildReusing(f *config.File, table []translators.Dialect, logger *slog.Logger, prev *built) (proxy.Config, *built, error) {
	next := newBuilt()
	pc := proxy.Config{
		PingInterval:     f.Keepalive.PingInterval,
		PongTimeout:      f.Keepalive.PongTimeout,
		DrainTimeout:     f.Shutdown.DrainTimeout,
		HandshakeTimeout: f.Limits.HandshakeTimeout,
		MaxHeaderBytes:   f.Limits.MaxHeaderBytes,
		MaxConnections:   f.Limits.MaxConnections,

		MaxConnectionsPerIP: f.Limits.MaxConnectionsPerIP,
		MaxConversations:    f.Limits.MaxConversations,
		Logger:              logger,
		Expvar:              f.Debug.Expvar,
		Pprof:               f.Debug.Pprof,
		PublicURL:           f.PublicURL,
	}
	if f.TLS != nil {
		cf, err := proxy.NewCertFile(f.TLS.CertFile, f.TLS.KeyFile, logger)
		if err != nil {
			return pc, nil, err
		}
		pc.TLS = &tls.Config{GetCertificate: cf.GetCertificate}
	}
	providers := make(map[string]proxy.Authenticator, len(f.Auth))
	tickets := map[string]*auth.Tickets{}
	for name, p := range f.Auth {
		a, err := prev.auth(next, p)
		if err != nil {
			return pc, nil, fmt.Errorf("auth provider %q (line %d): %w", name, p.Line, err)
		}
		if a != nil {
			providers[name] = a
		}
		if t, ok := a.(*auth.Tickets); ok {
			tickets[name] = t
		}
	}
	pc.MetricsOnAdmin = f.Admin.Listen != ""
	for _, name := range f.Admin.Auth {
		if a := providers[name]; a != nil {
			pc.AdminAuth = append(pc.AdminAuth, a)
		}
	}
	for name, t := range tickets {
		ti := &proxy.TicketIssuer{Tickets: t}
		for _, w := range f.Auth[name].IssueWith {
			if a := providers[w]; a != nil {
				ti.IssueWith = append(ti.IssueWith, a)
			}
		}
		pc.Tickets = append(pc.Tickets, ti)
	}
	backends := make(map[string]*proxy.Backend, len(f.Backends))
	for name, b := range f.Backends {
		pb, err := prev.backend(next, b, table, f.Limits)
		if err != nil {
			return pc, nil, fmt.Errorf("backend %q (line %d): %w", name, b.Line, err)
		}
		backends[name] = pb
	}
	for _, r := range f.Routes {
		client, ok := lookupDialect(table, r.Dialect)
		if !ok {
			return pc, nil, fmt.Errorf("route %q (line %d): dialect %q is not available in this build (have: %s)", r.Name, r.Line, r.Dialect, dialectNames(table))
		}
		var auths []proxy.Authenticator
		for _, name := range r.Auth {
			if a := providers[name]; a != nil {
				auths = append(auths, a)
			} else {
				// A provider of type none admits everyone: the route is open.
				auths = nil
				break
			}
		}
		rt := &proxy.Route{
			Name:    r.Name,
			Path:    r.Path,
			Client:  client,
			Backend: backends[r.Backend],
			Origins: r.Origins,
			Auth:    auths,
			Limits: proxy.Limits{
				MaxMessage:   r.Limits.MaxMessage,
				MaxTurnText:  int(r.Limits.MaxTurnText),
				MaxPending:   r.Limits.MaxPending,
				WriteTimeout: r.Limits.WriteTimeout,
				MessageRate:  r.Limits.MessageRate,
				MessageBurst: r.Limits.MessageBurst,
				ControlRate:  r.Limits.ControlRate,

				MaxConversations: r.Limits.MaxConversations,
			},
			Session: proxy.Session{Timeout: r.Session.Timeout, MaxMessages: r.Session.MaxMessages,
				ResumeWindow: r.Session.ResumeWindow, ResumeEvents: r.Session.ResumeEvents, ResumeBytes: r.Session.ResumeBytes},
		}
		// session.streaming picks the reply mode; the dialect may refine it
		// from its own keys (plain's reply:).
		rt.ClientOptions = translators.Options{Reply: translators.ReplyWhole, Settings: r.Settings, Route: r.Path}
		if r.Session.Streaming {
			rt.ClientOptions.Reply = translators.ReplyStream
		}
		if client.ClientOptions != nil {
			rt.ClientOptions = client.ClientOptions(rt.ClientOptions)
		}
		pc.Routes = append(pc.Routes, prev.route(next, r, rt))
	}
	return pc, next, nil
}

func buildBackend(b *config.Backend, table []translators.Dialect) (*proxy.Backend, error) {
	pb := &proxy.Backend{
		Name:             b.Name,
		DialTimeout:      b.DialTimeout,
		HandshakeTimeout: b.HandshakeTimeout,
		IdentityHeader:   b.ForwardIdentity,
	}
	if b.Dialect == "demo" {
		agent := &demo.Agent{Name: b.Name, Pace: b.Demo.Pace, Thinking: b.Demo.Thinking, Prefix: b.Demo.Prefix}
		pb.Dialect = translators.Dialect{Name: "demo"}
		pb.Open = func(context.Context, []proxy.Param) (proxy.Upstream, error) {
			return agent.NewSession(), nil
		}
		return pb, nil
	}
	d, ok := lookupDialect(table, b.Dialect)
	if !ok {
		return nil, fmt.Errorf("dialect %q is not available in this build (have: %s)", b.Dialect, dialectNames(table))
	}
	if b.CAFile != "" {
		pem, err := os.ReadFile(b.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pb.RootCAs = x509.NewCertPool()
		if !pb.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", b.CAFile)
		}
	}
	e := translators.Endpoint{URL: b.URL, Options: translators.Options{Settings: b.Settings}}
	if d.Endpoint != nil {
		e = d.Endpoint(b.URL, b.Settings)
	}
	pb.Dialect, pb.Options = d, e.Options
	pb.URL, pb.IdleGap = e.URL, e.IdleGap
	pb.APIURL, pb.APIKey, pb.AgentID = e.APIURL, e.APIKey, e.AgentID
	if e.Secret != "" {
		// The backend's own secret, from its configuration: never a
		// client's. Header by default, or query, or the first message.
		switch e.SecretIn {
		case "query":
			pb.URL = setQuery(e.URL, queryName(d), e.Secret)
		case "first_frame":
			pb.Options.Secret = e.Secret
		default:
			pb.Header = map[string]string{headerName(d): headerValue(d, e.Secret)}
		}
	}
	return pb, nil
}

// lookupDialect finds the dialect named name in the table.
func lookupDialect(table []translators.Dialect, name string) (translators.Dialect, bool) {
	for _, d := range table {
		if d.Name == name {
			return d, true
		}
	}
	return translators.Dialect{}, false
}

// dialectNames lists the table for messages.
func dialectNames(table []translators.Dialect) string {
	names := make([]string, 0, len(table)+1)
	for _, d := range table {
		names = append(names, d.Name)
	}
	return strings.Join(append(names, "demo (backend)"), ", ")
}

// setQuery returns rawURL with name=value as its only name parameter. It
// edits the text instead of parsing and printing the URL, which would
// escape the "{param}" placeholders the proxy fills in per session.
func setQuery(rawURL, name, value string) string {
	rest, frag, hasFrag := strings.Cut(rawURL, "#")
	base, query, _ := strings.Cut(rest, "?")
	var b strings.Builder
	b.WriteString(base)
	b.WriteByte('?')
	for _, kv := range strings.Split(query, "&") {
		k, _, _ := strings.Cut(kv, "=")
		if kv == "" || queryKey(k) == name {
			continue
		}
		b.WriteString(kv)
		b.WriteByte('&')
	}
	b.WriteString(url.QueryEscape(name) + "=" + url.QueryEscape(value))
	if hasFrag {
		b.WriteString("#" + frag)
	}
	return b.String()
}

func queryKey(k string) string {
	if u, err := url.QueryUnescape(k); err == nil {
		return u
	}
	return k
}

func headerName(d translators.Dialect) string {
	if d.AuthHeader != "" {
		return d.AuthHeader
	}
	return "Authorization"
}

func headerValue(d translators.Dialect, secret string) string {
	if d.AuthHeader != "" {
		return secret
	}
	return "Bearer " + secret
}

func queryName(d translators.Dialect) string {
	if d.AuthQuery != "" {
		return d.AuthQuery
	}
	return "access_token"
}

// buildAuth makes the provider p names; nil for type none.
func buildAuth(p *config.AuthProvider) (proxy.Authenticator, error) {
	switch p.Type {
	case "none":
		return nil, nil
	case "secret":
		return auth.NewSecret(p.Name, p.Secrets)
	case "ticket":
		return auth.NewTickets(auth.TicketsConfig{Name: p.Name, TTL: p.TTL})
	case "trusted_header":
		return auth.NewTrustedHeader(auth.TrustedHeaderConfig{Name: p.Name, Header: p.Header, TrustedProxies: p.TrustedProxies})
	case "jwt":
		j, err := auth.NewJWT(auth.JWTConfig{
			Name: p.Name, Algorithms: p.Algorithms, Secret: []byte(p.Secret), KeyFiles: p.KeyFiles,
			JWKSURL: p.JWKSURL, Issuer: p.Issuer, Audience: p.Audience, Leeway: p.Leeway,
		})
		if err != nil {
			return nil, err
		}
		if p.AllowExpiredSessions {
			return keepAfterExpiry{j}, nil
		}
		return j, nil
	}
	return nil, fmt.Errorf("auth provider type %q is not available in this build", p.Type)
}

// keepAfterExpiry admits what a provider admits, but lets the session
// outlive the credential (allow_expired_sessions: true): only connecting
// needs a valid token.
type keepAfterExpiry struct{ proxy.Authenticator }

func (k keepAfterExpiry) Authenticate(ctx context.Context, c auth.Credential) (auth.Identity, error) {
	id, err := k.Authenticator.Authenticate(ctx, c)
	id.Expires = time.Time{}
	return id, err
}
