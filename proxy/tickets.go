package proxy

import (
	"errors"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/agentbridge/agentbridge/auth"
	"github.com/agentbridge/agentbridge/internal/jsonx"
)

// issueTicket serves POST /auth/tickets: a caller admitted by one of a
// ticket provider's issue_with authenticators (Authorization: Bearer or
// X-API-Key) asks for a short-lived, single-use ticket for one route, and
// gets {"ticket", "expires_at", "url"}; the url connects with ?ticket=.
// Browsers, which cannot set headers on a WebSocket, connect with it.
//
// The body is {"route": "<route name>"}, plus "path" for a route with
// parameters (it must match the route).
func (s *Server) issueTicket(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		jsonError(ctx, fasthttp.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(ctx.PostBody())
	if err != nil || v.Type() != fastjson.TypeObject {
		jsonError(ctx, fasthttp.StatusBadRequest, "bad_request", `the body must be a JSON object like {"route": "chat"}`)
		return
	}
	name := string(v.GetStringBytes("route"))
	path := string(v.GetStringBytes("path"))
	var rt *Route
	for _, r := range s.cfg.Routes {
		if r.Name == name {
			rt = r
		}
	}
	if rt == nil {
		jsonError(ctx, fasthttp.StatusNotFound, "unknown_route", "no route named "+quote(name))
		return
	}
	if path == "" {
		path = rt.Path
	}
	if m, _ := s.router.match([]byte(path), nil); m != rt || strings.Contains(path, "/:") {
		jsonError(ctx, fasthttp.StatusBadRequest, "bad_path", "give the \"path\" to connect to; it must match the route "+quote(rt.Path))
		return
	}
	ti := s.ticketIssuerFor(rt)
	if ti == nil {
		jsonError(ctx, fasthttp.StatusNotFound, "no_tickets", "route "+quote(name)+" does not accept tickets")
		return
	}
	cred := auth.Credential{Route: rt.Name, Value: bearer(&ctx.Request.Header), Source: auth.FromBearer}
	if v := ctx.Request.Header.Peek("X-API-Key"); cred.Value == "" && len(v) > 0 {
		cred.Value, cred.Source = string(v), auth.FromHeader
	}
	admitted := false
	for _, a := range ti.IssueWith {
		if _, err := a.Authenticate(ctx, cred); err == nil {
			admitted = true
			break
		}
	}
	if !admitted {
		jsonError(ctx, fasthttp.StatusUnauthorized, "unauthorized", "invalid or missing credentials: send Authorization: Bearer <secret>")
		return
	}
	ticket, expires, err := ti.Tickets.Issue(rt.Name)
	if err != nil {
		status := fasthttp.StatusInternalServerError
		if errors.Is(err, auth.ErrTooManyTickets) {
			status = fasthttp.StatusServiceUnavailable
		}
		jsonError(ctx, status, "unavailable", "cannot issue a ticket now")
		return
	}
	scheme := "ws://"
	if ctx.IsTLS() {
		scheme = "wss://"
	}
	b := append([]byte(nil), `{"ticket":`...)
	b = jsonx.AppendStr(b, ticket)
	b = append(b, `,"expires_at":`...)
	b = jsonx.AppendStr(b, expires.UTC().Format(time.RFC3339Nano))
	b = append(b, `,"url":`...)
	b = jsonx.AppendStr(b, scheme+string(ctx.Host())+path+"?ticket="+ticket)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetContentType("application/json")
	ctx.SetBody(append(b, '}'))
}

// ticketIssuerFor returns the ticket provider rt accepts, if any.
func (s *Server) ticketIssuerFor(rt *Route) *TicketIssuer {
	for _, ti := range s.cfg.Tickets {
		for _, a := range rt.Auth {
			if a == Authenticator(ti.Tickets) {
				return ti
			}
		}
	}
	return nil
}

func quote(s string) string { return string(jsonx.AppendStr(nil, s)) }
