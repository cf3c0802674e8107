package proxy

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fastjson"

	"github.com/agentbridge/agentbridge/auth"
	"github.com/agentbridge/agentbridge/internal/jsonx"
)

// issueTicket serves POST /auth/tickets: a caller admitted by one of a
// ticket provider's issue_with authenticators (Authorization: Bearer or
// X-API-Key) asks for a short-lived, single-use ticket for one path of one
// route, and gets {"ticket", "expires_at", "url"}; the url connects with
// ?ticket=. Browsers, which cannot set headers on a WebSocket, connect
// with it.
//
// The body is {"route": "<route name>"}, plus "path" for a route with
// parameters (it must match the route, without a query or fragment). The
// caller's credential is checked first: an anonymous caller learns nothing
// about routes.
func (s *Server) issueTicket(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		jsonError(ctx, fasthttp.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	callers := s.ticketCallers(ctx)
	if len(callers) == 0 {
		jsonError(ctx, fasthttp.StatusUnauthorized, "unauthorized", "invalid or missing credentials: send Authorization: Bearer <secret>")
		return
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(ctx.PostBody())
	if err != nil || v.Type() != fastjson.TypeObject {
		jsonError(ctx, fasthttp.StatusBadRequest, "bad_request", `the body must be a JSON object like {"route": "chat"}`)
		return
	}
	name := string(v.GetStringBytes("route"))
	var rt *Route
	for _, r := range s.table.Load().routes {
		if r.Name == name {
			rt = r
		}
	}
	if rt == nil {
		jsonError(ctx, fasthttp.StatusNotFound, "unknown_route", "no route named "+quote(name))
		return
	}
	ti := s.ticketIssuerFor(rt)
	switch {
	case ti == nil:
		jsonError(ctx, fasthttp.StatusNotFound, "no_tickets", "route "+quote(name)+" does not accept tickets")
		return
	case !slices.Contains(callers, ti):
		jsonError(ctx, fasthttp.StatusForbidden, "forbidden", "your credential may not ask for tickets for route "+quote(name))
		return
	}
	path, ok := s.ticketPath(rt, string(v.GetStringBytes("path")))
	if !ok {
		jsonError(ctx, fasthttp.StatusBadRequest, "bad_path", "give the \"path\" to connect to, without a query or fragment; it must match the route "+quote(rt.Path))
		return
	}
	ticket, expires, err := ti.Tickets.Issue(rt.Name, string(path.Path()))
	if err == nil {
		s.metrics.minted.Inc()
	}
	if err != nil {
		status := fasthttp.StatusInternalServerError
		if errors.Is(err, auth.ErrTooManyTickets) {
			status = fasthttp.StatusServiceUnavailable
		}
		jsonError(ctx, status, "unavailable", "cannot issue a ticket now")
		return
	}
	b := append([]byte(nil), `{"ticket":`...)
	b = jsonx.AppendStr(b, ticket)
	b = append(b, `,"expires_at":`...)
	b = jsonx.AppendStr(b, expires.UTC().Format(time.RFC3339Nano))
	b = append(b, `,"url":`...)
	b = jsonx.AppendStr(b, s.publicBase(ctx)+string(path.RequestURI())+"?ticket="+ticket)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetContentType("application/json")
	ctx.SetBody(append(b, '}'))
}

// ticketCallers returns the ticket providers whose issue_with admits the
// caller's credential: Authorization: Bearer, else X-API-Key.
func (s *Server) ticketCallers(ctx *fasthttp.RequestCtx) []*TicketIssuer {
	cred := auth.Credential{Value: bearer(&ctx.Request.Header), Source: auth.FromBearer}
	if v := ctx.Request.Header.Peek("X-API-Key"); cred.Value == "" && len(v) > 0 {
		cred.Value, cred.Source = string(v), auth.FromHeader
	}
	if cred.Value == "" {
		return nil
	}
	var out []*TicketIssuer
	for _, ti := range s.table.Load().tickets {
		for _, a := range ti.IssueWith {
			if _, err := a.Authenticate(ctx, cred); err == nil {
				out = append(out, ti)
				break
			}
		}
	}
	return out
}

// ticketPath checks the path a ticket is asked for (rt's own path when
// empty): absolute, without a query or fragment, and one of rt's. It
// returns it as the proxy will see it when the client connects (decoded
// and normalized), which is what the ticket is bound to.
func (s *Server) ticketPath(rt *Route, path string) (*fasthttp.URI, bool) {
	if path == "" {
		path = rt.Path
	}
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?#") || strings.Contains(path, "/:") {
		return nil, false
	}
	u := &fasthttp.URI{}
	u.SetPath(path)
	m, _ := s.table.Load().router.match(u.Path(), nil)
	return u, m == rt
}

// publicBase returns the scheme and authority ticket urls start with:
// PublicURL's, or else the address the caller reached the proxy at, never
// the request's Host header.
func (s *Server) publicBase(ctx *fasthttp.RequestCtx) string {
	if public := s.table.Load().public; public != "" {
		return public
	}
	if ctx.IsTLS() {
		return "wss://" + ctx.LocalAddr().String()
	}
	return "ws://" + ctx.LocalAddr().String()
}

// wsBase turns a configured public URL into the base of WebSocket urls:
// http becomes ws and https wss; a trailing slash is dropped.
func wsBase(public string) (string, error) {
	if public == "" {
		return "", nil
	}
	u, err := url.Parse(public)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("proxy: public URL must be a URL like https://agents.example.com, without credentials, query or fragment")
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", errors.New("proxy: public URL must start with http://, https://, ws:// or wss://")
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// ticketIssuerFor returns the ticket provider rt accepts, if any.
func (s *Server) ticketIssuerFor(rt *Route) *TicketIssuer {
	for _, ti := range s.table.Load().tickets {
		for _, a := range rt.Auth {
			if a == Authenticator(ti.Tickets) {
				return ti
			}
		}
	}
	return nil
}

func quote(s string) string { return string(jsonx.AppendStr(nil, s)) }
