package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"time"

	"github.com/gobwas/ws"
	"github.com/valyala/fasthttp"

	"github.com/agentbridge/agentbridge/auth"
	"github.com/agentbridge/agentbridge/translators"
)

// Authenticator admits a client or not. The auth package's providers
// satisfy it.
type Authenticator interface {
	Authenticate(ctx context.Context, c auth.Credential) (auth.Identity, error)
}

// credential returns the credential a handshake request carries: the
// dialect's header (Authorization: Bearer when it names none), then its
// query parameter. The value is copied out of the request.
func credential(ctx *fasthttp.RequestCtx, rt *Route) auth.Credential {
	c := auth.Credential{Route: rt.Name}
	h := &ctx.Request.Header
	if name := rt.Client.AuthHeader; name != "" {
		if v := h.Peek(name); len(v) > 0 {
			c.Value, c.Source = string(v), auth.FromHeader
			return c
		}
	} else if v := h.Peek("Authorization"); len(v) > 7 && string(v[:7]) == "Bearer " {
		c.Value, c.Source = string(v[7:]), auth.FromHeader
		return c
	}
	if name := rt.Client.AuthQuery; name != "" {
		if v := ctx.QueryArgs().Peek(name); len(v) > 0 {
			c.Value, c.Source = string(v), auth.FromQuery
		}
	}
	return c
}

// credentialHint tells a refused client where a credential goes.
func credentialHint(rt *Route) string {
	switch {
	case rt.Client.AuthHeader != "" && rt.Client.AuthQuery != "":
		return "send the " + rt.Client.AuthHeader + " header or query parameter"
	case rt.Client.AuthHeader != "":
		return "send the " + rt.Client.AuthHeader + " header"
	}
	return "send an Authorization: Bearer header"
}

// authenticate tries the route's authenticators in order; the first that
// admits the client wins.
func (s *Server) authenticate(rt *Route, c auth.Credential) (auth.Identity, error) {
	err := error(auth.ErrNoCredential)
	for _, a := range rt.Auth {
		id, aerr := a.Authenticate(context.Background(), c)
		if aerr == nil {
			return id, nil
		}
		err = aerr
	}
	return auth.Identity{}, err
}

// admitInBand runs the in-band handshake of a client that connected without
// a credential: its first message must be one (within AuthTimeout); only
// then is the backend dialed. On any failure the client gets the dialect's
// error message and a close (1008 for authentication, 1013 for a backend
// that cannot be reached), and the connection is done.
func (s *Server) admitInBand(c *conn, rt *Route, params []Param, codec translators.Codec) (*leg, error) {
	fail := func(code, msg string, ce *CloseError) error {
		ev := translators.Event{Kind: translators.KindError, Code: []byte(code), Text: []byte(msg)}
		if out, err := codec.Encode(nil, &ev); err == nil && len(out) > 0 {
			_ = c.writeFrame(opcode(rt.Client), out)
		}
		c.closeGracefully(ce.Code, ce.Reason, closeGrace)
		return ce
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(s.cfg.AuthTimeout))
	idle := c.readIdle
	c.readIdle = 0
	_, msg, err := c.readMessage(nil, rt.Limits.MaxMessage)
	c.readIdle = idle
	_ = c.nc.SetReadDeadline(time.Time{})
	if err != nil {
		var ce *CloseError
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, fail("unauthorized", "authentication timed out: send your secret first", closeAuth)
		case errors.As(err, &ce):
			return nil, fail("bad_request", ce.Reason, ce)
		}
		c.close()
		c.rb = c.freeRead()
		return nil, err
	}
	evs, err := codec.Decode(nil, msg)
	if err != nil || len(evs) == 0 || evs[0].Kind != translators.KindAuth {
		return nil, fail("unauthorized", "authentication required: send your secret first", closeAuth)
	}
	cred := auth.Credential{Value: string(evs[0].Text), Source: auth.FromMessage, Route: rt.Name}
	if _, err := s.authenticate(rt, cred); err != nil {
		s.log.Info("client refused", "route", rt.Name, "reason", "invalid credentials", "remote", c.nc.RemoteAddr().String())
		return nil, fail("unauthorized", "invalid credentials", closeAuth)
	}
	lg, err := s.openLeg(rt, params)
	if err != nil {
		s.log.Warn("backend unavailable", "route", rt.Name, "backend", rt.Backend.Name, "err", err)
		return nil, fail("backend_unavailable", "the backend for this route is unavailable; try again later", closeTryLater)
	}
	return lg, nil
}

var (
	closeAuth     = &CloseError{ws.StatusPolicyViolation, "unauthorized"}
	closeTryLater = &CloseError{1013, "backend unavailable, try again later"}
)

// newSessionID returns a random id for a session (Connic's
// connector_run_id).
func newSessionID() []byte {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return []byte(hex.EncodeToString(b[:]))
}
