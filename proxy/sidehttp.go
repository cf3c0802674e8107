package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/agentbridge/agentbridge/auth"
	"github.com/agentbridge/agentbridge/internal/redact"
	"github.com/agentbridge/agentbridge/translators"
)

// A passthrough route's HTTP endpoints (get-messages on an agents ↔ agents
// relay) belong to the backend, which keeps the conversation: the proxy
// keeps none for a relay. The request is forwarded to the same address on
// the backend (the route's backend URL with the path's parameters, ws
// turned into http, the endpoint's suffix added), with the backend's own
// headers and never the client's, and the answer comes back as it is.

// maxSideBody bounds a forwarded answer.
const maxSideBody = 8 << 20

// sideTransport carries the forwarded requests; it keeps connections to
// backends between them.
var sideTransport = &http.Transport{
	Proxy:               nil, // the backend's address as configured, as the socket's dial
	MaxIdleConnsPerHost: 4,
	ForceAttemptHTTP2:   false,
}

// forwardHTTP answers a request for ep on a passthrough route from the
// backend.
func (s *Server) forwardHTTP(ctx *fasthttp.RequestCtx, rt *Route, params []Param, id auth.Identity, ep *translators.HTTPEndpoint) {
	b := rt.Backend
	raw := expandParams(b.URL, params)
	u, err := b.parseURL(raw)
	if err != nil {
		jsonError(ctx, fasthttp.StatusBadGateway, "backend_unavailable", "the agent's address is not valid")
		return
	}
	target := *u
	switch target.Scheme {
	case "ws":
		target.Scheme = "http"
	case "wss":
		target.Scheme = "https"
	}
	target.Path = strings.TrimSuffix(target.Path, "/") + ep.Suffix
	target.RawPath = ""
	c, cancel := context.WithTimeout(context.Background(), b.DialTimeout+b.HandshakeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(c, ep.Method, target.String(), nil)
	if err != nil {
		jsonError(ctx, fasthttp.StatusBadGateway, "backend_unavailable", "the agent's address is not valid")
		return
	}
	for k, v := range b.Header {
		req.Header.Set(k, v)
	}
	if b.IdentityHeader != "" && id.Subject != "" {
		req.Header.Set(b.IdentityHeader, id.Subject)
	}
	resp, err := sideTransport.RoundTrip(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold the backend's credentials
		}
		s.log.Warn("backend unavailable", "route", rt.Name, "backend", b.Name, "url", redact.URL(target.String()), "err", err)
		jsonError(ctx, fasthttp.StatusBadGateway, "backend_unavailable", "the agent did not answer")
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSideBody+1))
	if err != nil || len(body) > maxSideBody {
		jsonError(ctx, fasthttp.StatusBadGateway, "backend_unavailable", "the agent's answer was cut or too large")
		return
	}
	ctx.SetStatusCode(resp.StatusCode)
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		ctx.SetContentType(ct)
	}
	ctx.SetBody(body)
}
