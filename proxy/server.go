package proxy

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/expvarhandler"
	"github.com/valyala/fasthttp/pprofhandler"

	"github.com/agentbridge/agentbridge/auth"
	"github.com/agentbridge/agentbridge/internal/jsonx"
	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
	"github.com/agentbridge/agentbridge/translators"
)

// Server is the proxy: one fasthttp listener for health endpoints and
// WebSocket upgrades, and the registry of live sessions.
type Server struct {
	cfg    Config
	log    *slog.Logger
	router *router
	http   *fasthttp.Server
	hubs   map[*Route]*hub // routes whose clients use REST
	public string          // base of ticket urls (wsBase of cfg.PublicURL), or ""

	draining    atomic.Bool
	mu          sync.Mutex
	sessions    map[sessionCloser]struct{}
	conns       int                      // live client connections
	perIP       map[netip.Addr]int       // live client connections by address
	restSockets map[*Backend]*restSocket // shared sockets of REST backends
	wg          sync.WaitGroup           // live sessions
}

// sessionCloser is what the registry needs of a live session.
type sessionCloser interface {
	// drain asks the session to end with 1001 once its in-flight replies
	// are done.
	drain()
	// forceClose ends the session now with 1001.
	forceClose()
}

// New checks cfg, fills in defaults and returns a Server. cfg and the routes
// it points to must not be changed afterwards.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if len(cfg.Routes) == 0 {
		return nil, errors.New("proxy: no routes")
	}
	for _, rt := range cfg.Routes {
		if rt.Client.New == nil {
			return nil, fmt.Errorf("proxy: route %q: no client dialect", rt.Name)
		}
		b := rt.Backend
		if b == nil || b.Dialect.New == nil && b.Open == nil {
			return nil, fmt.Errorf("proxy: route %q: no backend", rt.Name)
		}
		if b.Open == nil && b.URL == "" {
			return nil, fmt.Errorf("proxy: route %q: backend %q has no URL", rt.Name, b.Name)
		}
		rt.Limits.setDefaults()
		rt.Session.setDefaults()
		b.setDefaults()
	}
	public, err := wsBase(cfg.PublicURL)
	if err != nil {
		return nil, err
	}
	s := &Server{
		public:   public,
		cfg:      cfg,
		log:      cfg.Logger,
		router:   newRouter(cfg.Routes),
		sessions: make(map[sessionCloser]struct{}),
		perIP:    make(map[netip.Addr]int),
		hubs:     make(map[*Route]*hub),
	}
	for _, rt := range cfg.Routes {
		if rt.Client.REST != nil {
			s.hubs[rt] = newHub(s, rt)
		}
	}
	s.http = &fasthttp.Server{
		Handler:                       s.handle,
		Name:                          "agentbridge",
		ReadTimeout:                   cfg.HandshakeTimeout,
		WriteTimeout:                  cfg.HandshakeTimeout,
		IdleTimeout:                   cfg.HandshakeTimeout,
		ReadBufferSize:                cfg.MaxHeaderBytes,
		MaxRequestBodySize:            1 << 20,
		KeepHijackedConns:             true,
		NoDefaultDate:                 true,
		NoDefaultContentType:          true,
		DisableHeaderNamesNormalizing: false,
		CloseOnShutdown:               true,
		Logger:                        fasthttpLogger{s: cfg.Logger},
		SecureErrorLogMessage:         true, // fasthttp's own errors never quote the request
	}
	return s, nil
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.http.Serve(ln)
	if s.draining.Load() {
		return nil
	}
	return err
}

// ListenAndServe listens on addr and serves until Shutdown.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Shutdown stops accepting connections, makes /readyz answer 503, lets
// every live session finish its in-flight replies, and closes what is left
// with 1001 when DrainTimeout (or ctx) runs out. It returns when every
// session has ended.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	herr := s.http.ShutdownWithContext(ctx)
	s.mu.Lock()
	for sc := range s.sessions {
		sc.drain()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	timer := time.NewTimer(s.cfg.DrainTimeout)
	defer timer.Stop()
	select {
	case <-done:
		s.closeRESTSockets()
		return herr
	case <-timer.C:
	case <-ctx.Done():
	}
	s.mu.Lock()
	for sc := range s.sessions {
		sc.forceClose()
	}
	s.mu.Unlock()
	<-done
	s.closeRESTSockets()
	return herr
}

// Draining reports whether Shutdown has begun.
func (s *Server) Draining() bool { return s.draining.Load() }

// Sessions returns the number of live sessions.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

func (s *Server) register(sc sessionCloser) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining.Load() {
		return false
	}
	s.sessions[sc] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) unregister(sc sessionCloser) {
	s.mu.Lock()
	delete(s.sessions, sc)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) readIdle() time.Duration { return s.cfg.PingInterval + s.cfg.PongTimeout }

// handle serves every HTTP request: health endpoints, then routes.
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	path := ctx.Path()
	switch string(path) {
	case "/healthz":
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"status":"ok"}`)
		return
	case "/readyz":
		ctx.SetContentType("application/json")
		if s.draining.Load() {
			ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
			ctx.SetBodyString(`{"status":"draining"}`)
			return
		}
		ctx.SetBodyString(`{"status":"ready"}`)
		return
	case "/auth/tickets":
		s.issueTicket(ctx)
		return
	case "/debug/vars":
		if s.cfg.Expvar {
			expvarhandler.ExpvarHandler(ctx)
			return
		}
	}
	if s.cfg.Pprof && strings.HasPrefix(string(path), "/debug/pprof/") {
		pprofhandler.PprofHandler(ctx)
		return
	}
	if h, send := s.matchREST(path); h != nil {
		h.serveREST(ctx, send)
		return
	}
	rt, params := s.router.match(path, nil)
	if rt == nil {
		httpError(ctx, fasthttp.StatusNotFound, "not_found", "no route for this path")
		return
	}
	if badParam(params, ctx.Request.URI().PathOriginal()) {
		httpError(ctx, fasthttp.StatusBadRequest, "bad_parameter", "a path parameter may not hold /, \\, ?, #, control characters, or be . or ..")
		return
	}
	s.upgrade(ctx, rt, params)
}

// matchREST finds the REST route a path addresses: a route's path followed
// by its dialect's send or cancel path.
func (s *Server) matchREST(path []byte) (h *hub, send bool) {
	for rt, h := range s.hubs {
		rest := rt.Client.REST
		for _, suffix := range [2]string{rest.SendPath, rest.CancelPath} {
			if len(path) > len(suffix) && string(path[len(path)-len(suffix):]) == suffix {
				if m, _ := s.router.match(path[:len(path)-len(suffix)], nil); m == rt {
					return h, suffix == rest.SendPath
				}
			}
		}
	}
	return nil, false
}

// httpError answers a request that will not be upgraded with a JSON body
// and ends the connection.
func httpError(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	ctx.Response.Reset()
	ctx.SetConnectionClose() // a refused upgrade ends the connection
	jsonError(ctx, status, code, msg)
}

// jsonError answers with {"error": code, "message": msg}.
func jsonError(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	b := append([]byte(`{"error":"`), code...)
	b = append(b, `","message":`...)
	b = jsonx.AppendStr(b, msg)
	ctx.SetBody(append(b, '}'))
}

// checkHandshake validates an RFC 6455 opening handshake (section 4.2.1) and
// returns the Sec-WebSocket-Accept value.
func checkHandshake(ctx *fasthttp.RequestCtx) (accept [28]byte, status int, msg string) {
	h := &ctx.Request.Header
	if !headerHasToken(h.Peek("Upgrade"), "websocket") || !headerHasToken(h.Peek("Connection"), "upgrade") {
		return accept, fasthttp.StatusUpgradeRequired, "this path is a WebSocket endpoint: send an Upgrade: websocket request"
	}
	if !ctx.IsGet() {
		return accept, fasthttp.StatusMethodNotAllowed, "a WebSocket handshake must be a GET request"
	}
	if !h.IsHTTP11() || h.ConnectionClose() {
		// RFC 6455 section 4.1: HTTP/1.1 or higher, on a connection that
		// stays open.
		return accept, fasthttp.StatusBadRequest, "a WebSocket handshake needs HTTP/1.1 and no Connection: close"
	}
	if string(h.Peek("Sec-WebSocket-Version")) != "13" {
		ctx.Response.Header.Set("Sec-WebSocket-Version", "13")
		return accept, fasthttp.StatusUpgradeRequired, "unsupported Sec-WebSocket-Version: use 13"
	}
	key := h.Peek("Sec-WebSocket-Key")
	var raw [18]byte
	if len(key) != 24 {
		return accept, fasthttp.StatusBadRequest, "invalid Sec-WebSocket-Key"
	}
	if n, err := base64.StdEncoding.Decode(raw[:], key); err != nil || n != 16 {
		return accept, fasthttp.StatusBadRequest, "invalid Sec-WebSocket-Key"
	}
	return acceptKey(key), 0, ""
}

// acceptKey computes Sec-WebSocket-Accept (RFC 6455 section 4.2.2).
func acceptKey(key []byte) (out [28]byte) {
	var buf [24 + 36]byte
	sum := sha1.Sum(append(append(buf[:0], key...), "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"...))
	base64.StdEncoding.Encode(out[:], sum[:])
	return out
}

// headerHasToken reports whether a comma-separated header value holds token,
// case-insensitively.
func headerHasToken(v []byte, token string) bool {
	for len(v) > 0 {
		part := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			part, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		if strings.EqualFold(string(bytes.TrimSpace(part)), token) {
			return true
		}
	}
	return false
}

func originAllowed(origins []string, origin []byte) bool {
	if len(origins) == 0 {
		return true
	}
	for _, o := range origins {
		if o == "*" || strings.EqualFold(o, string(origin)) {
			return true
		}
	}
	return false
}

// upgrade runs the handshake for route rt: checks, backend dial, 101, then
// hands the connection to a session.
func (s *Server) upgrade(ctx *fasthttp.RequestCtx, rt *Route, params []Param) {
	accept, status, msg := checkHandshake(ctx)
	if status != 0 {
		httpError(ctx, status, "bad_handshake", msg)
		return
	}
	if origins := ctx.Request.Header.PeekAll("Origin"); len(origins) > 1 {
		// RFC 6454 section 7 allows one: the proxy must not check one
		// Origin while a browser or a backend acts on another.
		httpError(ctx, fasthttp.StatusForbidden, "forbidden_origin", "more than one Origin header")
		return
	}
	if !originAllowed(rt.Origins, ctx.Request.Header.Peek("Origin")) {
		httpError(ctx, fasthttp.StatusForbidden, "forbidden_origin", "origin not allowed")
		return
	}
	if s.draining.Load() {
		httpError(ctx, fasthttp.StatusServiceUnavailable, "draining", "server is shutting down")
		return
	}

	status, slot := s.admitConn(remoteAddr(ctx))
	if status != 0 {
		if status == fasthttp.StatusTooManyRequests {
			httpError(ctx, status, "too_many_connections", "too many connections from your address")
		} else {
			httpError(ctx, status, "server_full", "the server has too many connections; try again later")
		}
		return
	}
	upgraded := false
	defer func() {
		if !upgraded {
			slot.release()
		}
	}()

	if h := s.hubs[rt]; h != nil {
		// Subscribers need no credential: a reply token is an unguessable
		// capability handed only to authenticated REST callers.
		upgraded = true
		s.acceptSubscriber(ctx, h, accept, slot)
		return
	}

	// Credentials in the request are checked before the upgrade (401).
	// A dialect that lets clients authenticate in their first message gets
	// the upgrade without one, and the backend is dialed only after that
	// message admitted the client.
	id, inBand, ok := s.admit(ctx, rt)
	if !ok {
		return
	}

	// The backend is dialed before the client's 101, so an unreachable
	// backend is an HTTP error the client can read.
	var lg leg
	if !inBand {
		var err error
		if lg, err = s.openLeg(rt, params, id); err != nil {
			status, code := dialStatus(err)
			s.log.Warn("backend unavailable", "route", rt.Name, "backend", rt.Backend.Name, "err", err)
			httpError(ctx, status, code, "the backend for this route is unavailable")
			return
		}
	}
	upgraded = true
	s.switchProtocols(ctx, rt, switchingProtocols(accept, subprotocol(ctx)), func(c *wsconn.Conn) {
		s.serve(c, rt, params, lg, id, slot)
	}, func() {
		lg.close()
		slot.release()
	})
}

// switchProtocols hands the connection to start, on a goroutine of its own
// so that fasthttp's hijack goroutine and the request buffers it holds are
// released at once. The 101 (resp) is written only once fasthttp has handed
// the connection over: fasthttp skips the hijack handler of a connection
// that failed or is to be closed, and a 101 written by it would then be
// followed by nothing. When the handler has not run within twice the
// handshake timeout (fasthttp's write deadline for what it flushes first),
// it never will, and abandon runs instead, exactly once either way, to give
// back what the connection held.
func (s *Server) switchProtocols(ctx *fasthttp.RequestCtx, rt *Route, resp []byte, start func(*wsconn.Conn), abandon func()) {
	var taken atomic.Bool
	guard := time.AfterFunc(2*s.cfg.HandshakeTimeout, func() {
		if taken.CompareAndSwap(false, true) {
			abandon()
		}
	})
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(hc net.Conn) {
		if !taken.CompareAndSwap(false, true) {
			hc.Close()
			return
		}
		guard.Stop()
		nc, leftover := unwrapHijacked(hc)
		_ = nc.SetWriteDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
		if _, err := nc.Write(resp); err != nil {
			nc.Close()
			abandon()
			return
		}
		_ = nc.SetWriteDeadline(time.Time{})
		c := wsconn.New(nc, true, rt.Limits.WriteTimeout, s.readIdle())
		c.LimitControl(rt.Limits.ControlRate, 2*rt.Limits.ControlRate)
		c.Preload(leftover)
		go start(c)
	})
}

// switchingProtocols returns the 101 answer to a handshake, naming
// protocol when it is not empty.
func switchingProtocols(accept [28]byte, protocol string) []byte {
	b := make([]byte, 0, 192)
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nServer: agentbridge\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, accept[:]...)
	if protocol != "" {
		b = append(b, "\r\nSec-WebSocket-Protocol: "...)
		b = append(b, protocol...)
	}
	return append(b, "\r\n\r\n"...)
}

// acceptSubscriber upgrades a subscriber socket of a REST route.
func (s *Server) acceptSubscriber(ctx *fasthttp.RequestCtx, h *hub, accept [28]byte, slot connSlot) {
	s.switchProtocols(ctx, h.rt, switchingProtocols(accept, ""), func(c *wsconn.Conn) {
		sub := &subscriber{h: h, c: c, codec: clientCodec(h.rt)}
		if !s.register(sub) {
			sub.finish(errGoingAway)
			slot.release()
			return
		}
		sub.start(slot)
	}, slot.release)
}

// dialStatus maps a failure to open the backend leg to an HTTP status and
// an error code for the client.
func dialStatus(err error) (int, string) {
	var de *dialError
	if errors.As(err, &de) && de.status == fasthttp.StatusGatewayTimeout {
		return de.status, "backend_timeout"
	}
	return fasthttp.StatusBadGateway, "backend_unavailable"
}

// leg is the backend side of a new session: an Upstream to translate
// through, or a socket to relay to, with the message the backend greeted
// the proxy with (sent on to a relayed client).
type leg struct {
	up       Upstream
	relay    *wsconn.Conn
	greeting []byte
	agent    []byte // the agent's name, when the backend said
}

// close ends a leg that no session took.
func (l *leg) close() {
	if l.relay != nil {
		l.relay.CloseGracefully(ws.StatusGoingAway, "", 0)
	}
	if l.up != nil {
		l.up.Close(int(ws.StatusGoingAway), "")
	}
}

// openLeg makes the backend leg for a new session: a dialed socket (relayed
// as is when both sides speak the same dialect) or an in-process upstream.
func (s *Server) openLeg(rt *Route, params []Param, id auth.Identity) (leg, error) {
	b := rt.Backend
	if b.Open != nil {
		up, err := b.Open(context.Background(), params)
		if err != nil {
			return leg{}, &dialError{502, err}
		}
		return leg{up: up, agent: []byte(b.Name)}, nil
	}
	if b.Dialect.REST != nil {
		up, err := s.openREST(rt)
		if err != nil {
			return leg{}, err
		}
		return leg{up: up, agent: []byte(b.Name)}, nil
	}
	c, codec, ready, err := s.dial(context.Background(), rt, params, id)
	if err != nil {
		return leg{}, err
	}
	if passthrough(rt) {
		return leg{relay: c, greeting: ready.raw, agent: ready.agent}, nil
	}
	return leg{up: &socketUpstream{
		c:     c,
		codec: codec,
		op:    opcode(b.Dialect),
		max:   rt.Limits.MaxMessage,
		gap:   idleGap(b),
	}, agent: ready.agent}, nil
}

// passthrough reports whether a route relays frames without translating:
// both sides speak the same dialect, in the same shape.
func passthrough(rt *Route) bool {
	b := rt.Backend
	if b.Open != nil || rt.Client.Name == "" || rt.Client.Name != b.Dialect.Name || rt.Client.REST != nil {
		return false
	}
	return rt.Client.SameShape == nil || rt.Client.SameShape(rt.ClientOptions, b.Options)
}

func idleGap(b *Backend) time.Duration {
	if b.Options.Chunked && b.Options.EndMarker == "" {
		return b.IdleGap
	}
	return 0
}

// serve runs one session: in-band authentication and the backend dial when
// they were left for after the upgrade, then a relay or a translating
// session. slot is released once the session has ended; a session may end
// after serve returned.
func (s *Server) serve(c *wsconn.Conn, rt *Route, params []Param, lg leg, id auth.Identity, slot connSlot) {
	var codec translators.Codec          // the client's, made only when needed: a relay has none
	if lg.up == nil && lg.relay == nil { // authenticated in band: not dialed yet
		codec = clientCodec(rt)
		var err error
		if lg, id, err = s.admitInBand(c, rt, params, codec); err != nil {
			slot.release()
			return
		}
	}
	if lg.relay != nil {
		r := newRelay(s, rt, c, lg.relay)
		if !s.register(r) {
			r.refuse()
			slot.release()
			return
		}
		if !id.Expires.IsZero() {
			r.expiry = time.AfterFunc(time.Until(id.Expires), r.expire)
		}
		if len(lg.greeting) > 0 {
			if err := c.WriteFrame(opcode(rt.Client), lg.greeting); err != nil {
				r.finish(err, true)
			}
		}
		r.start(slot)
		return
	}
	if codec == nil {
		codec = clientCodec(rt)
	}
	ss := newSession(s, rt, c, lg.up, codec)
	if !s.register(ss) {
		ss.refuse()
		slot.release()
		return
	}
	if !id.Expires.IsZero() {
		ss.expiry = time.AfterFunc(time.Until(id.Expires), ss.expireCredential)
	}
	ss.start(lg.agent, slot)
}

// clientCodec makes the codec for a client of rt.
func clientCodec(rt *Route) translators.Codec {
	opts := rt.ClientOptions
	opts.Role = translators.Client
	return rt.Client.New(opts)
}

// unwrapHijacked returns the socket under a fasthttp hijacked connection and
// any bytes fasthttp had read past the request, so the session reads the
// socket directly and fasthttp's request buffer is not kept for its life.
func unwrapHijacked(hc net.Conn) (net.Conn, []byte) {
	u, ok := hc.(interface{ UnsafeConn() net.Conn })
	if !ok {
		return hc, nil
	}
	nc := u.UnsafeConn()
	// Clients wait for the 101 before they send frames, so fasthttp's
	// buffer is almost always empty. Read it with an expired deadline:
	// buffered bytes come back at once, an empty buffer times out.
	var leftover []byte
	if err := nc.SetReadDeadline(time.Unix(1, 0)); err == nil {
		tmp := wsconn.GetBuf() // pooled: a local array would escape through Read
		for {
			n, err := hc.Read(tmp[:])
			leftover = append(leftover, tmp[:n]...)
			if err != nil || n == 0 {
				break
			}
		}
		wsconn.PutBuf(tmp)
		_ = nc.SetReadDeadline(time.Time{})
	}
	return nc, leftover
}

// fasthttpLogger passes fasthttp's messages to the debug log without their
// arguments: for a malformed request those hold the raw request, with its
// Authorization header or ?access_token=. Only fasthttp's fixed format and
// the kind of each error argument are logged.
type fasthttpLogger struct{ s *slog.Logger }

func (l fasthttpLogger) Printf(format string, args ...any) {
	if !l.s.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	var kinds []string
	for _, a := range args {
		if err, ok := a.(error); ok {
			kinds = append(kinds, errorKind(err))
		}
	}
	l.s.Debug("http: "+format, "errors", kinds)
}

var _ = translators.Client
