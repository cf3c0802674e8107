package proxy

import (
	"context"
	"crypto/tls"
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
	cfg   Config
	log   *slog.Logger
	table atomic.Pointer[table] // routes and tickets for new connections; Reload swaps it
	http  *fasthttp.Server
	// The conversations kept for routes whose client dialect declares
	// HTTP endpoints (transcript.go).
	transcripts transcripts
	rooms       rooms               // the sessions of each path whose dialect shares replies (room.go)
	resumes     map[string]*session // under mu: the session of each resumable conversation (resume.go)

	draining    atomic.Bool
	mu          sync.Mutex
	sessions    map[sessionCloser]struct{}
	conns       int                      // live client connections
	perIP       map[netip.Addr]int       // live client connections by address
	restSockets map[*Backend]*restSocket // shared sockets of REST backends
	wg          sync.WaitGroup           // live sessions
	drops       drops                    // opaque frames dropped (frameDropped)
	refusals    refusalLog               // rate of refusal records per address (accesslog.go)
	reloadMu    sync.Mutex               // one Reload at a time
	metrics     *metrics                 // Prometheus (metrics.go)
	metricsHTTP fasthttp.RequestHandler  // promhttp, adapted
	admin       *fasthttp.Server         // the admin listener's (ServeAdmin), or nil
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
	if cfg.TLS != nil {
		cfg.TLS = serverTLS(cfg.TLS)
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		sessions: make(map[sessionCloser]struct{}),
		perIP:    make(map[netip.Addr]int),
		metrics:  newMetrics(),
	}
	s.metrics.dropped = s.Dropped
	s.metricsHTTP = s.metrics.handler()
	tb, err := s.newTable(cfg, nil)
	if err != nil {
		return nil, err
	}
	s.table.Store(tb)
	// Hijacked connections are not kept: fasthttp then pools the request's
	// read buffer (MaxHeaderBytes) again once the hijack handler returns,
	// where a kept connection's would be garbage, 8 KiB per upgrade. The
	// hijack handler takes the socket from its handoffConn (Serve), so the
	// close fasthttp makes after it closes nothing.
	s.http = &fasthttp.Server{
		Handler:                       s.handle,
		Name:                          "agentbridge",
		ReadTimeout:                   cfg.HandshakeTimeout,
		WriteTimeout:                  cfg.HandshakeTimeout,
		IdleTimeout:                   cfg.HandshakeTimeout,
		ReadBufferSize:                cfg.MaxHeaderBytes,
		MaxRequestBodySize:            1 << 20,
		KeepHijackedConns:             false,
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
	if s.cfg.TLS != nil {
		ln = tls.NewListener(ln, s.cfg.TLS)
	}
	err := s.http.Serve(handoffListener{ln})
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
	admin := s.admin
	s.mu.Unlock()
	if admin != nil {
		_ = admin.ShutdownWithContext(ctx)
	}
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
	s.metrics.opened(sc)
	return true
}

func (s *Server) unregister(sc sessionCloser) {
	s.metrics.closed(sc)
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
	case "/metrics":
		if !s.cfg.MetricsOnAdmin {
			s.serveMetrics(ctx)
			return
		}
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
	if rt, params, ep := s.matchHTTP(path); ep != nil {
		s.serveHTTP(ctx, rt, params, ep)
		return
	}
	rt, params := s.table.Load().router.match(path, nil)
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
	tb := s.table.Load()
	for rt, h := range tb.hubs {
		rest := rt.Client.REST
		for _, suffix := range [2]string{rest.SendPath, rest.CancelPath} {
			if len(path) > len(suffix) && string(path[len(path)-len(suffix):]) == suffix {
				if m, _ := tb.router.match(path[:len(path)-len(suffix)], nil); m == rt {
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
	start := time.Now()
	c, codec, ready, err := s.dial(context.Background(), rt, params, id)
	s.metrics.dialed(rt, time.Since(start))
	if err != nil {
		return leg{}, err
	}
	if passthrough(rt) {
		return leg{relay: c, greeting: ready.raw, agent: ready.agent}, nil
	}
	su := &socketUpstream{
		s:     s,
		rt:    rt,
		c:     c,
		codec: codec,
		op:    opcode(b.Dialect),
		max:   rt.Limits.MaxMessage,
		gap:   idleGap(b),
	}
	opts := b.Options
	opts.Role = translators.Backend
	su.ticker, su.tickEvery = ticker(b.Dialect, opts, codec)
	return leg{up: su, agent: ready.agent}, nil
}

// ticker returns codec as a Ticker with the interval its dialect d asks
// for with options o, or nil when d sends nothing on a timer.
func ticker(d translators.Dialect, o translators.Options, codec translators.Codec) (translators.Ticker, time.Duration) {
	if d.TickEvery == nil {
		return nil, 0
	}
	t, ok := codec.(translators.Ticker)
	every := d.TickEvery(o)
	if !ok || every <= 0 {
		return nil, 0
	}
	return t, every
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
		codec = clientCodec(rt, params)
		var err error
		if lg, id, err = s.admitInBand(c, rt, params, codec); err != nil {
			slot.release()
			return
		}
	}
	if lg.relay != nil {
		r := newRelay(s, rt, c, lg.relay)
		r.id = id
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
		codec = clientCodec(rt, params)
	}
	ss := newSession(s, rt, c, lg.up, codec)
	ss.params, ss.id = params, id // a reset opens the next leg with them
	if len(rt.Client.HTTP) > 0 {
		ss.keep, ss.conv = true, conversationKey(rt, params)
	}
	if !s.register(ss) {
		ss.refuse()
		slot.release()
		return
	}
	if rt.Client.Replayed != nil {
		if ss.conv == "" {
			ss.conv = conversationKey(rt, params)
		}
		ss.room = s.rooms.join(ss.conv, ss)
	}
	if key := resumeKey(rt, params); key != "" {
		if seq, ok := codec.(translators.Sequencer); ok {
			ss.res = &resumable{key: key, seq: seq, lastSeq: seq.LastEventID()}
			s.addResumable(ss)
		}
	}
	if !id.Expires.IsZero() {
		ss.expiry = time.AfterFunc(time.Until(id.Expires), ss.expireCredential)
	}
	ss.start(lg.agent, slot)
}

// clientCodec makes the codec for a client of rt whose path matched params.
func clientCodec(rt *Route, params []Param) translators.Codec {
	opts := rt.ClientOptions
	opts.Role = translators.Client
	opts.Params = params
	opts.Peer = rt.Backend.Dialect.Name
	opts.Now = time.Now
	return rt.Client.New(opts)
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
