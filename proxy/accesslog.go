package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/valyala/fasthttp"

	"github.com/agentbridge/agentbridge/auth"
	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
)

// The access log: one record per session when it ends ("session") and one
// per refused upgrade ("refused"), at info level through Config.Logger.
// A record names routes, dialects, addresses, counts, close codes and the
// identity's subject; never a credential, a query string or a header
// value (TestAccessLogNoCredentials). Refusals are limited per client
// address (refusalLog), so a flood of bad handshakes cannot flood the log.

// sessionRecord is what one ended session reports.
type sessionRecord struct {
	rt              *Route
	kind            string // relay or translate
	client, backend *wsconn.Conn
	id              auth.Identity
	fromClient      int64 // messages read from the client
	fromBackend     int64 // messages read from the backend; -1 when not counted (a translating session)
}

// logSession writes the access record of a session that ended: both pumps
// are done, so the legs' counters are settled.
func (s *Server) logSession(r sessionRecord) {
	cs := r.client.Stats()
	var bs wsconn.Stats
	if r.backend != nil {
		bs = r.backend.Stats()
	}
	if !s.log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	code, by, reason := closedBy(cs, bs, r.backend != nil)
	attrs := make([]slog.Attr, 0, 20)
	attrs = append(attrs,
		slog.String("route", r.rt.Name),
		slog.String("kind", r.kind),
		slog.String("client_dialect", dialectName(r.rt.Client.Name)),
		slog.String("backend", r.rt.Backend.Name),
		slog.String("backend_dialect", backendDialect(r.rt.Backend)),
		slog.String("client", addrString(r.client.RemoteAddr())),
	)
	if r.id.Subject != "" {
		attrs = append(attrs, slog.String("subject", r.id.Subject))
	}
	if r.id.Provider != "" {
		attrs = append(attrs, slog.String("auth", r.id.Provider))
	}
	attrs = append(attrs,
		slog.Duration("duration", time.Since(r.client.Started()).Round(time.Millisecond)),
		slog.Int64("msgs_from_client", r.fromClient),
	)
	if r.fromBackend >= 0 {
		attrs = append(attrs, slog.Int64("msgs_from_backend", r.fromBackend))
	}
	attrs = append(attrs,
		slog.Int64("bytes_from_client", cs.BytesIn),
		slog.Int64("bytes_to_client", cs.BytesOut),
	)
	if r.backend != nil {
		attrs = append(attrs,
			slog.Int64("bytes_from_backend", bs.BytesIn),
			slog.Int64("bytes_to_backend", bs.BytesOut))
	}
	attrs = append(attrs,
		slog.Int("close_code", int(code)),
		slog.String("closed_by", by),
	)
	if reason != "" {
		attrs = append(attrs, slog.String("reason", reason))
	}
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "session", attrs...)
}

// closedBy says how the client's side of a session closed: the code the
// client saw (or sent), which side ended it (client, backend or proxy),
// and the close reason. A reason is the proxy's own text or a peer's close
// reason, never request data.
func closedBy(cs, bs wsconn.Stats, socket bool) (ws.StatusCode, string, string) {
	switch {
	case cs.RecvFirst:
		return cs.RecvCode, "client", cs.RecvReason
	case socket && bs.RecvFirst:
		code := cs.SentCode
		if code == 0 {
			code = bs.RecvCode
		}
		return code, "backend", bs.RecvReason
	case cs.SentCode == 0:
		return ws.StatusAbnormalClosure, "client", "connection lost"
	case cs.SentCode == closeBackendGone.Code || cs.SentCode == closeTryLater.Code:
		return cs.SentCode, "backend", cs.SentReason
	}
	return cs.SentCode, "proxy", cs.SentReason
}

func dialectName(n string) string {
	if n == "" {
		return "unknown"
	}
	return n
}

// backendDialect names a backend's dialect; an in-process agent is demo.
func backendDialect(b *Backend) string {
	if b.Open != nil && b.Dialect.Name == "" {
		return "demo"
	}
	return dialectName(b.Dialect.Name)
}

func addrString(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap().String()
		}
	}
	if a == nil {
		return ""
	}
	return a.String()
}

// refuse answers a handshake on route rt that will not be upgraded, logs
// it (refusalLog) and counts it. code is the error code in the answer's
// body, the reason logged and counted; detail, when not empty, refines it
// (an auth failure's kind) and never holds request data.
func (s *Server) refuse(ctx *fasthttp.RequestCtx, rt *Route, status int, code, msg, detail string) {
	s.refused(rt, remoteAddr(ctx), status, code, detail)
	httpError(ctx, status, code, msg)
}

// refused logs and counts a refused client: before the upgrade with an
// HTTP status, or after it (in-band authentication) with status 0.
func (s *Server) refused(rt *Route, peer netip.Addr, status int, reason, detail string) {
	name := ""
	if rt != nil {
		name = rt.Name
	}
	s.metrics.refused(name, status, reason)
	suppressed, ok := s.refusals.allow(peer, time.Now())
	if !ok || !s.log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs, slog.String("route", name), slog.String("client", peer.String()))
	if status != 0 {
		attrs = append(attrs, slog.Int("status", status))
	}
	attrs = append(attrs, slog.String("reason", reason))
	if detail != "" {
		attrs = append(attrs, slog.String("detail", detail))
	}
	if suppressed > 0 {
		attrs = append(attrs, slog.Int("suppressed", suppressed))
	}
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "refused", attrs...)
}

// authReason names why a credential was refused, from the auth package's
// errors: never from the credential.
func authReason(err error) string {
	switch {
	case errors.Is(err, auth.ErrExpired):
		return "expired"
	case errors.Is(err, auth.ErrReplayed):
		return "replayed"
	case errors.Is(err, auth.ErrNoCredential):
		return "no_credential"
	}
	return "invalid"
}

// refusalLog limits refusal records per client address with a token
// bucket: refusalBurst at once, then one every refusalEvery. Records
// dropped are counted and reported with the address's next record. The
// table forgets every address when it holds refusalAddrs of them, so an
// attacker with many addresses cannot grow it without bound.
type refusalLog struct {
	mu    sync.Mutex
	addrs map[netip.Addr]*refusalBucket
}

type refusalBucket struct {
	tokens     float64
	last       time.Time
	suppressed int
}

const (
	refusalBurst = 5
	refusalEvery = time.Second
	refusalAddrs = 4096
)

// allow reports whether a refusal from peer at now may be logged, and how
// many were suppressed since the last one that was.
func (l *refusalLog) allow(peer netip.Addr, now time.Time) (suppressed int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.addrs == nil || len(l.addrs) >= refusalAddrs {
		l.addrs = make(map[netip.Addr]*refusalBucket)
	}
	b := l.addrs[peer]
	if b == nil {
		b = &refusalBucket{tokens: refusalBurst, last: now}
		l.addrs[peer] = b
	}
	b.tokens += now.Sub(b.last).Seconds() / refusalEvery.Seconds()
	if b.tokens > refusalBurst {
		b.tokens = refusalBurst
	}
	b.last = now
	if b.tokens < 1 {
		b.suppressed++
		return 0, false
	}
	b.tokens--
	suppressed, b.suppressed = b.suppressed, 0
	return suppressed, true
}

// peerAddr is the client address of an upgraded connection.
func peerAddr(c *wsconn.Conn) netip.Addr {
	a, _ := netip.ParseAddr(addrString(c.RemoteAddr()))
	return a
}

// record is the access record of a translating session that ended.
func (ss *session) record() sessionRecord {
	r := sessionRecord{rt: ss.rt, kind: "translate", client: ss.client, id: ss.id,
		fromClient: int64(ss.messages), fromBackend: -1}
	if ss.su != nil {
		r.backend = ss.su.c
	}
	return r
}
