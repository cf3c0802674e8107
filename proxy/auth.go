package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/gobwas/ws"
	"github.com/valyala/fasthttp"

	"github.com/agentbridge/agentbridge/auth"
	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
	"github.com/agentbridge/agentbridge/translators"
)

// Authenticator admits a client or not. The auth package's providers
// satisfy it.
type Authenticator interface {
	Authenticate(ctx context.Context, c auth.Credential) (auth.Identity, error)
}

// credential returns the credential a handshake request carries in the
// dialect's header (Authorization: Bearer when it names none) or its query
// parameter. The value is copied out of the request.
func credential(ctx *fasthttp.RequestCtx, rt *Route) auth.Credential {
	c := auth.Credential{Route: rt.Name}
	h := &ctx.Request.Header
	if name := rt.Client.AuthHeader; name != "" {
		if v := h.Peek(name); len(v) > 0 {
			c.Value, c.Source = string(v), auth.FromHeader
			return c
		}
	}
	if v := bearer(h); v != "" {
		c.Value, c.Source = v, auth.FromBearer
		return c
	}
	if name := rt.Client.AuthQuery; name != "" {
		if v := ctx.QueryArgs().Peek(name); len(v) > 0 {
			c.Value, c.Source = string(v), auth.FromQuery
		}
	}
	return c
}

// bearer returns the token of an Authorization: Bearer header, or "".
func bearer(h *fasthttp.RequestHeader) string {
	if v := h.Peek("Authorization"); len(v) > 7 && strings.EqualFold(string(v[:7]), "Bearer ") {
		return string(v[7:])
	}
	return ""
}

// The places of tickets and tokens beside the dialect's own: a query
// parameter, and a subprotocol prefix, which is how browsers, which cannot
// set headers, present them.
var browserPlaces = [...]struct {
	query, protocol string
	source          auth.Source
}{
	{"ticket", "ticket.", auth.FromTicket},
	{"access_token", "jwt.", auth.FromAccessToken},
}

// credentials returns every credential a handshake request carries, each
// with the place it came in, which decides the providers that read it.
//
// side, when not empty, is the suffix of the dialect's HTTP endpoint the
// request addresses (get-messages): a ticket is then checked against the
// socket's path (the request's without side) and not used up, as the
// Agents SDK sends the socket's query, ticket included, to get-messages
// too (auth.Credential.Peek).
func credentials(ctx *fasthttp.RequestCtx, rt *Route, side string) []auth.Credential {
	var out []auth.Credential
	if c := credential(ctx, rt); c.Value != "" {
		out = append(out, c)
	}
	for _, pl := range browserPlaces {
		if v := ctx.QueryArgs().Peek(pl.query); len(v) > 0 {
			out = append(out, browserCredential(ctx, rt, string(v), pl.source, side))
		}
	}
	for _, p := range offeredProtocols(ctx) {
		for _, pl := range browserPlaces {
			if v, ok := strings.CutPrefix(p, pl.protocol); ok && v != "" {
				out = append(out, browserCredential(ctx, rt, v, pl.source, side))
			}
		}
	}
	return out
}

// browserCredential is a credential from one of browserPlaces; a ticket
// also carries the path asked for, as a ticket is bound to one.
func browserCredential(ctx *fasthttp.RequestCtx, rt *Route, v string, src auth.Source, side string) auth.Credential {
	c := auth.Credential{Value: v, Source: src, Route: rt.Name}
	if src == auth.FromTicket {
		c.Path = string(ctx.Path())
		if side != "" {
			c.Path, c.Peek = strings.TrimSuffix(c.Path, side), true
		}
	}
	return c
}

func offeredProtocols(ctx *fasthttp.RequestCtx) []string {
	if len(ctx.Request.Header.Peek("Sec-WebSocket-Protocol")) == 0 {
		return nil // the common case, without a walk over the headers
	}
	var out []string
	for k, v := range ctx.Request.Header.All() {
		if strings.EqualFold(string(k), "Sec-WebSocket-Protocol") {
			for p := range strings.SplitSeq(string(v), ",") {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// subprotocol picks the subprotocol to answer: the first the client offered
// that carries no credential and is a token (RFC 6455 section 4.1), so it
// can be written into the 101 as is. A credential is never echoed back.
func subprotocol(ctx *fasthttp.RequestCtx) string {
	for _, p := range offeredProtocols(ctx) {
		if !strings.HasPrefix(p, "ticket.") && !strings.HasPrefix(p, "jwt.") && isToken(p) {
			return p
		}
	}
	return ""
}

// isToken reports whether s is an RFC 7230 token.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return s != ""
}

// identifier is a provider that takes the identity a trusted proxy in front
// of us put in a header (auth.TrustedHeader).
type identifier interface {
	Identify(peer netip.Addr, value string) (auth.Identity, error)
	HeaderName() string
}

// admit decides whether a handshake may proceed. It answers the request
// itself (401) when not, and reports inBand when the client may still
// authenticate in its first message.
func (s *Server) admit(ctx *fasthttp.RequestCtx, rt *Route, side string) (id auth.Identity, inBand, ok bool) {
	if len(rt.Auth) == 0 {
		return id, false, true
	}
	peer := remoteAddr(ctx)
	for _, a := range rt.Auth {
		if ider, isID := a.(identifier); isID {
			// The header counts only from a trusted peer; from anyone else
			// it is ignored (and never forwarded: the proxy forwards no
			// client header).
			if v := ctx.Request.Header.Peek(ider.HeaderName()); len(v) > 0 {
				if id, err := ider.Identify(peer, string(v)); err == nil {
					return id, false, true
				}
			}
		}
	}
	creds := credentials(ctx, rt, side)
	var aerr error
	for _, c := range creds {
		var id auth.Identity
		if id, aerr = s.authenticate(rt, c); aerr == nil {
			return id, false, true
		}
	}
	switch {
	case len(creds) > 0:
		s.refuse(ctx, rt, fasthttp.StatusUnauthorized, "unauthorized", "invalid credentials", authReason(aerr))
	case rt.Client.InBand:
		return id, true, true
	default:
		s.refuse(ctx, rt, fasthttp.StatusUnauthorized, "unauthorized", "missing credentials: "+credentialHint(rt), "no_credential")
	}
	return id, false, false
}

func remoteAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	if ta, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// credentialHint tells a refused client where a credential goes.
func credentialHint(rt *Route) string {
	switch {
	case rt.Client.AuthHeader != "" && rt.Client.AuthQuery != "":
		return "send the " + rt.Client.AuthHeader + " header or query parameter"
	case rt.Client.AuthHeader != "":
		return "send the " + rt.Client.AuthHeader + " header"
	}
	return "send an Authorization: Bearer header, a ?ticket= or an ?access_token="
}

// authenticate tries the route's authenticators in order; the first that
// admits the client wins.
func (s *Server) authenticate(rt *Route, c auth.Credential) (auth.Identity, error) {
	err := error(auth.ErrNoCredential)
	for _, a := range rt.Auth {
		if _, isID := a.(identifier); isID {
			continue
		}
		id, aerr := a.Authenticate(context.Background(), c)
		if aerr == nil {
			s.metrics.ticketUsed(c, nil)
			return id, nil
		}
		if !errors.Is(aerr, auth.ErrNoCredential) {
			err = aerr // the reason of a provider that read the credential
		}
	}
	s.metrics.ticketUsed(c, err)
	return auth.Identity{}, err
}

// admitInBand runs the in-band handshake of a client that connected without
// a credential: its first message must be one (within AuthTimeout); only
// then is the backend dialed. On any failure the client gets the dialect's
// error message and a close (1008 for authentication, 1013 for a backend
// that cannot be reached), and the connection is done.
func (s *Server) admitInBand(c *wsconn.Conn, rt *Route, params []Param, codec translators.Codec) (leg, auth.Identity, error) {
	fail := func(code, msg string, ce *CloseError) error {
		ev := translators.Event{Kind: translators.KindError, Code: []byte(code), Text: []byte(msg)}
		if out, err := codec.Encode(nil, &ev); err == nil && len(out) > 0 {
			_ = c.WriteFrame(opcode(rt.Client), out)
		}
		c.CloseGracefully(ce.Code, ce.Reason, closeGrace)
		return ce
	}
	c.SetReadDeadline(time.Now().Add(s.cfg.AuthTimeout))
	idle := c.SetReadIdle(0)
	_, msg, err := c.ReadMessage(nil, rt.Limits.MaxMessage)
	c.SetReadIdle(idle)
	c.SetReadDeadline(time.Time{})
	if err != nil {
		var ce *CloseError
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			s.refused(rt, peerAddr(c), 0, "unauthorized", "timeout")
			return leg{}, auth.Identity{}, fail("unauthorized", "authentication timed out: send your secret first", closeAuth)
		case errors.As(err, &ce):
			return leg{}, auth.Identity{}, fail("bad_request", ce.Reason, ce)
		}
		c.Close()
		c.FreeRead()
		return leg{}, auth.Identity{}, err
	}
	evs, err := codec.Decode(nil, msg)
	if err != nil || len(evs) == 0 || evs[0].Kind != translators.KindAuth {
		s.refused(rt, peerAddr(c), 0, "unauthorized", "no_credential")
		return leg{}, auth.Identity{}, fail("unauthorized", "authentication required: send your secret first", closeAuth)
	}
	cred := auth.Credential{Value: string(evs[0].Text), Source: auth.FromMessage, Route: rt.Name}
	id, err := s.authenticate(rt, cred)
	if err != nil {
		s.refused(rt, peerAddr(c), 0, "unauthorized", authReason(err))
		return leg{}, id, fail("unauthorized", "invalid credentials", closeAuth)
	}
	lg, err := s.openLeg(rt, params, id)
	if err != nil {
		s.log.Warn("backend unavailable", "route", rt.Name, "backend", rt.Backend.Name, "err", err)
		_, code := dialStatus(err)
		s.refused(rt, peerAddr(c), 0, code, "")
		return leg{}, id, fail("backend_unavailable", "the backend for this route is unavailable; try again later", closeTryLater)
	}
	return lg, id, nil
}

var (
	closeAuth     = &CloseError{Code: ws.StatusPolicyViolation, Reason: "unauthorized"}
	closeExpired  = &CloseError{Code: ws.StatusPolicyViolation, Reason: "credential expired"}
	closeTryLater = &CloseError{Code: 1013, Reason: "backend unavailable, try again later"}
)

// expireCredential ends a session whose credential expired.
func (ss *session) expireCredential() {
	_ = ss.sendError("credential_expired", "your credential expired; reconnect with a new one")
	ss.finish(closeExpired, true)
}

// expire ends a relay whose client's credential expired.
func (r *relay) expire() {
	r.sendError("credential_expired", "your credential expired; reconnect with a new one")
	r.finish(closeExpired, true)
	r.client.InterruptRead(time.Now().Add(closeGrace))
}

// newSessionID returns a random id for a session (Connic's
// connector_run_id).
func newSessionID() []byte {
	var id [24]byte
	return appendSessionID(id[:0])
}

// appendSessionID appends a random session id (24 hex digits) to dst.
func appendSessionID(dst []byte) []byte {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.AppendEncode(dst, b[:])
}
