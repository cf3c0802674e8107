package proxy

import (
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/agentbridge/agentbridge/auth"
	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
)

// metrics is the proxy's Prometheus instrumentation, one per Server.
//
// Nothing here runs per frame. What a session moves is counted by its
// connections' owners in plain fields (wsconn.Stats) and read in two
// ways: once when the session ends (closed), when its figures are folded
// into its route's totals; and at a scrape (Collect), for the sessions
// still live, from the bytes written to each leg (an atomic counter each
// write, not each frame, adds to). A route's
// labels and counters are resolved once, when a configuration is loaded
// (route), not per session. mu guards everything but the vectors.
type metrics struct {
	reg *prometheus.Registry

	mu     sync.Mutex
	byName map[string]*routeMetrics // by route name and dialect pair: one series set across reloads
	routes map[*Route]*routeMetrics
	live   map[sessionCloser]*liveSession

	sessions  *prometheus.CounterVec
	closes    *prometheus.CounterVec
	refusals  *prometheus.CounterVec
	dialTime  *prometheus.HistogramVec
	tickets   *prometheus.CounterVec
	minted    prometheus.Counter
	redeemed  prometheus.Counter
	unticketd prometheus.Counter

	descOpen, descMsgs, descBytes *prometheus.Desc

	// Read at a scrape: the sessions whose client left and that a client
	// may still take over (resume), frames dropped for want of a place in
	// the other dialect (Server.Dropped), and the poller's health.
	handshake                  *prometheus.HistogramVec
	malformed                  *prometheus.CounterVec
	dropped                    func() map[DroppedFrame]int64
	descResumable, descDropped *prometheus.Desc
	descParked, descHandoffs   *prometheus.Desc
}

// routeMetrics are a route's series: its labels, its resolved counter
// children, and the totals of its ended sessions (under metrics.mu).
type routeMetrics struct {
	labels    [3]string // route, client dialect, backend dialect
	sessions  prometheus.Counter
	dial      prometheus.Observer
	handshake prometheus.Observer
	malformed prometheus.Counter // the client's messages its dialect refused

	msgs  [2]float64    // from the client, from the backend
	bytes [2][2]float64 // [leg: client, backend][direction: in, out]
}

// liveSession is a registered session's route and legs.
type liveSession struct {
	rm              *routeMetrics
	client, backend *wsconn.Conn
}

func newMetrics() *metrics {
	m := &metrics{
		reg:    prometheus.NewRegistry(),
		byName: make(map[string]*routeMetrics),
		routes: make(map[*Route]*routeMetrics),
		live:   make(map[sessionCloser]*liveSession),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentbridge_connections_total",
			Help: "Client connections admitted, by route and dialect pair."}, []string{"route", "client_dialect", "backend_dialect"}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentbridge_closes_total",
			Help: "Sessions ended, by route, the close code the client saw and the side that closed (client, backend, proxy)."}, []string{"route", "code", "closed_by"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentbridge_upgrades_refused_total",
			Help: "Clients refused, by route, HTTP status (0: after the upgrade) and reason."}, []string{"route", "status", "reason"}),
		dialTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "agentbridge_backend_dial_seconds",
			Help:    "Time to open a backend connection: connect, TLS, WebSocket and dialect handshakes, by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"route"}),
		tickets: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentbridge_tickets_total",
			Help: "Tickets minted, redeemed and refused."}, []string{"result"}),
		descOpen: prometheus.NewDesc("agentbridge_connections_open", "Live client sessions, by route and dialect pair.",
			[]string{"route", "client_dialect", "backend_dialect"}, nil),
		descMsgs: prometheus.NewDesc("agentbridge_messages_total", "Messages read, by route and direction, counted when a session ends.",
			[]string{"route", "direction"}, nil),
		handshake: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "agentbridge_handshake_seconds",
			Help:    "Time from a client's upgrade request to its 101: checks, authentication and the backend dial, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"route"}),
		malformed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "agentbridge_translation_errors_total",
			Help: "Client messages the client dialect could not translate (answered with its error), by route and dialect."},
			[]string{"route", "dialect"}),
		descResumable: prometheus.NewDesc("agentbridge_sessions_resumable", "Sessions whose client left, kept for a client to resume them (session.resume_window), by route.",
			[]string{"route"}, nil),
		descDropped: prometheus.NewDesc("agentbridge_frames_dropped_total", "Opaque frames of one dialect that the other leg's dialect has no place for, by route, the frame's dialect and its type.",
			[]string{"route", "dialect", "type"}, nil),
		descParked:   prometheus.NewDesc("agentbridge_poller_parked_connections", "Connections waiting on the shared epoll poller with no goroutine.", nil, nil),
		descHandoffs: prometheus.NewDesc("agentbridge_poller_handoffs_total", "Parked connections handed back to a goroutine of their own when data came.", nil, nil),
		descBytes: prometheus.NewDesc("agentbridge_bytes_total", "Wire bytes (frame headers included) by route, leg (client, backend) and direction (in: read from the leg, out: written to it). Bytes out include live sessions; bytes in are counted when a session ends.",
			[]string{"route", "leg", "direction"}, nil),
	}
	m.minted = m.tickets.WithLabelValues("minted")
	m.redeemed = m.tickets.WithLabelValues("redeemed")
	m.unticketd = m.tickets.WithLabelValues("refused")
	m.reg.MustRegister(m.sessions, m.closes, m.refusals, m.dialTime, m.tickets, m.handshake, m.malformed, m,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// route resolves rt's series, once per configuration (newTable).
func (m *metrics) route(rt *Route) {
	labels := [3]string{rt.Name, dialectName(rt.Client.Name), backendDialect(rt.Backend)}
	key := labels[0] + "\x00" + labels[1] + "\x00" + labels[2]
	m.mu.Lock()
	defer m.mu.Unlock()
	rm := m.byName[key]
	if rm == nil {
		rm = &routeMetrics{labels: labels,
			sessions:  m.sessions.WithLabelValues(labels[:]...),
			dial:      m.dialTime.WithLabelValues(rt.Name),
			handshake: m.handshake.WithLabelValues(rt.Name),
			malformed: m.malformed.WithLabelValues(rt.Name, labels[1])}
		m.byName[key] = rm
	}
	m.routes[rt] = rm
}

// legs returns the route and connections of a registered session.
func legs(sc sessionCloser) (rt *Route, client, backend *wsconn.Conn) {
	switch x := sc.(type) {
	case *relay:
		return x.rt, x.client, x.backend
	case *session:
		if su, ok := x.up.(*socketUpstream); ok {
			return x.rt, x.client, su.c
		}
		return x.rt, x.client, nil
	case *subscriber:
		return x.h.rt, x.c, nil
	}
	return nil, nil, nil
}

// opened counts a session that registered.
func (m *metrics) opened(sc sessionCloser) {
	rt, client, backend := legs(sc)
	m.mu.Lock()
	defer m.mu.Unlock()
	rm := m.routes[rt]
	if rm == nil {
		return
	}
	rm.sessions.Inc()
	m.live[sc] = &liveSession{rm: rm, client: client, backend: backend}
}

// closed folds a session that ended into its route's totals: both pumps
// are done, so its counters are settled.
// relegged records that a live session's leg old was replaced by nc (a
// client that took the session over, a backend leg opened again): what old
// moved joins the route's totals, and nc is read from now on. old's pumps
// must have ended.
func (m *metrics) relegged(sc sessionCloser, old, nc *wsconn.Conn) {
	if old == nil {
		return
	}
	st := old.Stats()
	m.mu.Lock()
	defer m.mu.Unlock()
	ls := m.live[sc]
	if ls == nil {
		return
	}
	leg := 0
	switch old {
	case ls.client:
		ls.client = nc
	case ls.backend:
		leg, ls.backend = 1, nc
	default:
		return
	}
	ls.rm.bytes[leg][0] += float64(st.BytesIn)
	ls.rm.bytes[leg][1] += float64(st.BytesOut)
}

func (m *metrics) closed(sc sessionCloser) {
	m.mu.Lock()
	ls := m.live[sc]
	delete(m.live, sc)
	m.mu.Unlock()
	if ls == nil {
		return
	}
	fromClient, fromBackend := int64(0), int64(0)
	switch x := sc.(type) {
	case *relay:
		fromClient, fromBackend = x.up.msgs, x.backendMsgs.Load()
	case *session:
		fromClient = int64(x.messages)
	}
	cs := ls.client.Stats()
	var bs wsconn.Stats
	if ls.backend != nil {
		bs = ls.backend.Stats()
	}
	code, by, _ := closedBy(cs, bs, ls.backend != nil)
	m.closes.WithLabelValues(ls.rm.labels[0], strconv.Itoa(int(code)), by).Inc()
	m.mu.Lock()
	defer m.mu.Unlock()
	rm := ls.rm
	rm.msgs[0] += float64(fromClient)
	rm.msgs[1] += float64(fromBackend)
	rm.bytes[0][0] += float64(cs.BytesIn)
	rm.bytes[0][1] += float64(cs.BytesOut)
	rm.bytes[1][0] += float64(bs.BytesIn)
	rm.bytes[1][1] += float64(bs.BytesOut)
}

// Describe sends the descriptors of the series Collect makes.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.descOpen
	ch <- m.descMsgs
	ch <- m.descBytes
	ch <- m.descResumable
	ch <- m.descDropped
	ch <- m.descParked
	ch <- m.descHandoffs
}

// Collect sends each route's live sessions and its totals: those of the
// sessions that ended, plus the bytes written so far to the live ones.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	type sums struct {
		open, resumable int
		out             [2]float64
	}
	live := make(map[*routeMetrics]*sums, len(m.byName))
	for sc, ls := range m.live {
		s := live[ls.rm]
		if s == nil {
			s = &sums{}
			live[ls.rm] = s
		}
		s.open++
		if ss, ok := sc.(*session); ok && ss.gone.Load() {
			s.resumable++
		}
		for i, c := range [2]*wsconn.Conn{ls.client, ls.backend} {
			if c == nil {
				continue
			}
			s.out[i] += float64(c.BytesOut())
		}
	}
	for _, rm := range m.byName {
		s := live[rm]
		if s == nil {
			s = &sums{}
		}
		route := rm.labels[0]
		ch <- prometheus.MustNewConstMetric(m.descOpen, prometheus.GaugeValue, float64(s.open), rm.labels[:]...)
		ch <- prometheus.MustNewConstMetric(m.descResumable, prometheus.GaugeValue, float64(s.resumable), route)
		ch <- prometheus.MustNewConstMetric(m.descMsgs, prometheus.CounterValue, rm.msgs[0], route, "from_client")
		ch <- prometheus.MustNewConstMetric(m.descMsgs, prometheus.CounterValue, rm.msgs[1], route, "from_backend")
		for leg, name := range [2]string{"client", "backend"} {
			ch <- prometheus.MustNewConstMetric(m.descBytes, prometheus.CounterValue, rm.bytes[leg][0], route, name, "in")
			ch <- prometheus.MustNewConstMetric(m.descBytes, prometheus.CounterValue, rm.bytes[leg][1]+s.out[leg], route, name, "out")
		}
	}
	if m.dropped != nil {
		for k, n := range m.dropped() {
			ch <- prometheus.MustNewConstMetric(m.descDropped, prometheus.CounterValue, float64(n), k.Route, k.Dialect, k.Type)
		}
	}
	parked, handed := wsconn.PollStats()
	ch <- prometheus.MustNewConstMetric(m.descParked, prometheus.GaugeValue, float64(parked))
	ch <- prometheus.MustNewConstMetric(m.descHandoffs, prometheus.CounterValue, float64(handed))
}

// of returns rt's series, or nil for a route no configuration loaded.
func (m *metrics) of(rt *Route) *routeMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.routes[rt]
}

// shook records how long rt's upgrade took, up to the 101.
func (m *metrics) shook(rt *Route, d time.Duration) {
	if rm := m.of(rt); rm != nil {
		rm.handshake.Observe(d.Seconds())
	}
}

// refusedMessage counts a client message of rt that its dialect refused.
func (m *metrics) refusedMessage(rt *Route) {
	if rm := m.of(rt); rm != nil {
		rm.malformed.Inc()
	}
}

// refused counts a refused client.
func (m *metrics) refused(route string, status int, reason string) {
	m.refusals.WithLabelValues(route, strconv.Itoa(status), reason).Inc()
}

// dialed records how long opening rt's backend leg took.
func (m *metrics) dialed(rt *Route, d time.Duration) {
	if rm := m.of(rt); rm != nil {
		rm.dial.Observe(d.Seconds())
	}
}

// ticketUsed counts a ticket presented by a client.
func (m *metrics) ticketUsed(c auth.Credential, err error) {
	if c.Source != auth.FromTicket {
		return
	}
	if err == nil {
		m.redeemed.Inc()
	} else {
		m.unticketd.Inc()
	}
}

// serveMetrics answers a scrape, after checking the caller against auths
// (any may admit, from Authorization: Bearer; none: open).
func (s *Server) serveMetrics(ctx *fasthttp.RequestCtx) {
	if len(s.cfg.AdminAuth) > 0 {
		c := auth.Credential{Value: bearer(&ctx.Request.Header), Source: auth.FromBearer}
		ok := false
		for _, a := range s.cfg.AdminAuth {
			if ider, isID := a.(identifier); isID {
				if v := ctx.Request.Header.Peek(ider.HeaderName()); len(v) > 0 {
					if _, err := ider.Identify(remoteAddr(ctx), string(v)); err == nil {
						ok = true
						break
					}
				}
				continue
			}
			if c.Value != "" {
				if _, err := a.Authenticate(ctx, c); err == nil {
					ok = true
					break
				}
			}
		}
		if !ok {
			ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="agentbridge metrics"`)
			jsonError(ctx, fasthttp.StatusUnauthorized, "unauthorized", "metrics need a credential")
			return
		}
	}
	s.metricsHTTP(ctx)
}

// metricsHandler adapts promhttp's handler to fasthttp, made once.
func (m *metrics) handler() fasthttp.RequestHandler {
	return fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
}

// ServeAdmin serves the operator endpoints on ln until Shutdown: /metrics
// (behind AdminAuth), /healthz and /readyz. Use it with MetricsOnAdmin to
// keep /metrics off the public listener.
func (s *Server) ServeAdmin(ln net.Listener) error {
	s.mu.Lock()
	s.admin = &fasthttp.Server{
		Name:                 "agentbridge",
		ReadTimeout:          s.cfg.HandshakeTimeout,
		WriteTimeout:         s.cfg.HandshakeTimeout,
		NoDefaultContentType: true,
		Logger:               fasthttpLogger{s: s.cfg.Logger},
		Handler: func(ctx *fasthttp.RequestCtx) {
			switch string(ctx.Path()) {
			case "/metrics":
				s.serveMetrics(ctx)
			case "/healthz", "/readyz":
				s.handle(ctx)
			default:
				jsonError(ctx, fasthttp.StatusNotFound, "not_found", "the admin listener serves /metrics, /healthz and /readyz")
			}
		},
	}
	srv := s.admin
	s.mu.Unlock()
	err := srv.Serve(ln)
	if s.draining.Load() {
		return nil
	}
	return err
}
