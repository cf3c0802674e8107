package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/valyala/fasthttp"

	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
	"github.com/agentbridge/agentbridge/translators"
)

// The proxy as a client of a backend whose dialect sends messages over REST
// and streams replies on a socket (Wiro): each session (restUpstream) sends
// with its own session key, so the backend keeps one conversation per
// session, and all sessions of a backend share one socket (restSocket),
// subscribed to each reply's token.

// restSocket is the socket shared by a backend's sessions. Its reader routes
// each message to the session that owns the message's token.
type restSocket struct {
	s    *Server
	b    *Backend // its MaxMessage and WriteTimeout bound the socket, whichever route dials it
	http *fasthttp.Client

	// The REST API's URLs, made once: the backend's APIURL and its
	// dialect's paths.
	sendURL, cancelURL string

	mu     sync.Mutex
	c      *wsconn.Conn // nil until dialed, and after it failed
	routes map[string]*restUpstream
	out    []byte
	sub    translators.Event // subscribe's event: passed to a codec, it would escape from a local
}

// restSocketFor returns the shared socket state of rt's backend.
func (s *Server) restSocketFor(rt *Route) *restSocket {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.restSockets == nil {
		s.restSockets = make(map[*Backend]*restSocket)
	}
	rs := s.restSockets[rt.Backend]
	if rs == nil {
		b := rt.Backend
		rest := b.Dialect.REST
		rs = &restSocket{s: s, b: b, routes: make(map[string]*restUpstream),
			sendURL: b.APIURL + rest.SendPath, cancelURL: b.APIURL + rest.CancelPath,
			http: &fasthttp.Client{
				Name:                "agentbridge",
				ReadTimeout:         b.HandshakeTimeout,
				WriteTimeout:        b.HandshakeTimeout,
				MaxConnWaitTimeout:  b.DialTimeout,
				MaxIdleConnDuration: time.Minute,
				TLSConfig:           b.tlsConfig(""),
			}}
		s.restSockets[rt.Backend] = rs
	}
	return rs
}

// ensure dials the socket when it is not up.
func (rs *restSocket) ensure() error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.c != nil {
		return nil
	}
	nc, br, err := dialWS(context.Background(), rs.b, rs.b.URL, nil)
	if err != nil {
		return err
	}
	c := wsconn.New(nc, false, rs.b.WriteTimeout, rs.s.readIdle())
	if br != nil {
		p, _ := br.Peek(br.Buffered())
		c.Preload(p)
		ws.PutReader(br)
	}
	c.StartKeepalive(rs.s.cfg.PingInterval)
	rs.c = c
	go rs.read(c)
	return nil
}

// read routes the socket's messages until it fails, then fails every
// session waiting on it. The dialect's FrameToken names the reply a message
// belongs to; the session's codec decodes it. A message that names none,
// or a reply no session waits for, is dropped.
func (rs *restSocket) read(c *wsconn.Conn) {
	var (
		frameToken = rs.b.Dialect.REST.FrameToken
		msg        []byte
		err        error
	)
	for {
		_, msg, err = c.ReadMessage(msg, rs.b.MaxMessage)
		if err != nil {
			break
		}
		token := frameToken(msg)
		if len(token) == 0 {
			continue
		}
		rs.mu.Lock()
		u := rs.routes[string(token)]
		rs.mu.Unlock()
		if u != nil {
			u.deliver(token, msg)
		}
	}
	rs.mu.Lock()
	if rs.c == c {
		rs.c = nil
	}
	failed := make([]*restUpstream, 0, len(rs.routes))
	for _, u := range rs.routes {
		failed = append(failed, u)
	}
	clear(rs.routes)
	rs.mu.Unlock()
	c.Close()
	c.FreeRead()
	for _, u := range failed {
		u.fail(fmt.Errorf("backend %q socket: %w", rs.b.Name, err))
	}
}

// subscribe routes token to u and subscribes on the socket. key is
// string(token), made by the caller, which keeps it too: the routes take it
// as their key rather than a string of their own.
func (rs *restSocket) subscribe(token []byte, key string, u *restUpstream) error {
	if err := rs.ensure(); err != nil {
		return err
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.c == nil {
		return errors.New("backend socket closed")
	}
	rs.routes[key] = u
	rs.sub = translators.Event{Kind: translators.KindSubscribe, ID: token}
	rs.out, _ = u.codec.Encode(rs.out[:0], &rs.sub)
	rs.sub = translators.Event{}
	return rs.c.WriteFrame(opcode(rs.b.Dialect), rs.out)
}

func (rs *restSocket) unsubscribe(token string) {
	rs.mu.Lock()
	delete(rs.routes, token)
	rs.mu.Unlock()
}

// post calls the backend's REST API at url (sendURL or cancelURL) with
// body; it appends the response's body to dst and returns it with the
// status.
func (rs *restSocket) post(url string, body, dst []byte) (int, []byte, error) {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod(http.MethodPost)
	req.Header.SetContentType("application/json")
	if rs.b.APIKey != "" {
		req.Header.Set(headerOrAuth(rs.b.Dialect), rs.b.APIKey)
	}
	req.SetBody(body)
	if err := rs.http.DoTimeout(req, resp, rs.b.DialTimeout+rs.b.HandshakeTimeout); err != nil {
		return 0, dst, err
	}
	return resp.StatusCode(), append(dst, resp.Body()...), nil
}

func headerOrAuth(d translators.Dialect) string {
	if d.AuthHeader != "" {
		return d.AuthHeader
	}
	return "Authorization"
}

// closeRESTSockets closes the shared backend sockets (at shutdown).
func (s *Server) closeRESTSockets() {
	s.mu.Lock()
	socks := make([]*restSocket, 0, len(s.restSockets))
	for _, rs := range s.restSockets {
		socks = append(socks, rs)
	}
	s.mu.Unlock()
	for _, rs := range socks {
		rs.mu.Lock()
		c := rs.c
		rs.mu.Unlock()
		if c != nil {
			_ = c.WriteClose(ws.StatusGoingAway, "")
			c.Close()
		}
	}
}
