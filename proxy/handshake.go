package proxy

import (
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
)

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
	began := time.Now()
	accept, status, msg := checkHandshake(ctx)
	if status != 0 {
		s.refuse(ctx, rt, status, "bad_handshake", msg, "")
		return
	}
	if origins := ctx.Request.Header.PeekAll("Origin"); len(origins) > 1 {
		// RFC 6454 section 7 allows one: the proxy must not check one
		// Origin while a browser or a backend acts on another.
		s.refuse(ctx, rt, fasthttp.StatusForbidden, "forbidden_origin", "more than one Origin header", "")
		return
	}
	if !originAllowed(rt.Origins, ctx.Request.Header.Peek("Origin")) {
		s.refuse(ctx, rt, fasthttp.StatusForbidden, "forbidden_origin", "origin not allowed", "")
		return
	}
	if s.draining.Load() {
		s.refuse(ctx, rt, fasthttp.StatusServiceUnavailable, "draining", "server is shutting down", "")
		return
	}

	status, slot := s.admitConn(remoteAddr(ctx))
	if status != 0 {
		if status == fasthttp.StatusTooManyRequests {
			s.refuse(ctx, rt, status, "too_many_connections", "too many connections from your address", "")
		} else {
			s.refuse(ctx, rt, status, "server_full", "the server has too many connections; try again later", "")
		}
		return
	}
	upgraded := false
	defer func() {
		if !upgraded {
			slot.release()
		}
	}()

	if h := s.table.Load().hubs[rt]; h != nil {
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
	id, inBand, ok := s.admit(ctx, rt, "")
	if !ok {
		return
	}
	params = queryParams(ctx, rt, params)

	// A socket that names a conversation whose client left takes its
	// session over (resume.go): no new backend leg.
	if ss := s.claim(rt, resumeKey(rt, params)); ss != nil && !inBand {
		upgraded = true
		s.switchProtocols(ctx, rt, switchingProtocols(accept, subprotocol(ctx)), func(c *wsconn.Conn) {
			ss.adopt(c, params, id, slot)
		}, func() {
			ss.release()
			slot.release()
		})
		return
	} else if ss != nil {
		ss.release()
	}

	// The backend is dialed before the client's 101, so an unreachable
	// backend is an HTTP error the client can read.
	var lg leg
	if !inBand {
		var err error
		if lg, err = s.openLeg(rt, params, id); err != nil {
			status, code := dialStatus(err)
			s.log.Warn("backend unavailable", "route", rt.Name, "backend", rt.Backend.Name, "err", err)
			s.refuse(ctx, rt, status, code, "the backend for this route is unavailable", "")
			return
		}
	}
	upgraded = true
	s.metrics.shook(rt, time.Since(began))
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
		sub := &subscriber{h: h, c: c, codec: clientCodec(h.rt, nil)}
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

// unwrapHijacked returns the socket under a fasthttp hijacked connection and
// any bytes fasthttp had read past the request, so the session reads the
// socket directly and fasthttp's request buffer is not kept for its life:
// fasthttp pools it again once the hijack handler returns. It takes the
// socket from its handoffConn: the caller closes it from now on.
func unwrapHijacked(hc net.Conn) (net.Conn, []byte) {
	u, ok := hc.(interface{ UnsafeConn() net.Conn })
	if !ok {
		return hc, nil
	}
	nc := u.UnsafeConn()
	switch h := nc.(type) {
	case *handoffConn:
		nc = h.take()
	case *handoffTLSConn:
		nc = h.take()
	}
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

// queryParams appends to params the query parameters the client dialect
// reads (Dialect.Query), with an empty value for those the request lacks.
func queryParams(ctx *fasthttp.RequestCtx, rt *Route, params []Param) []Param {
	if len(rt.Client.Query) == 0 {
		return params
	}
	params = params[:len(params):len(params)] // the router's slice is not ours to grow
	for _, name := range rt.Client.Query {
		params = append(params, Param{Name: name, Value: string(ctx.QueryArgs().Peek(name))})
	}
	return params
}

// handoffListener wraps each accepted connection in a handoffConn, so that
// an upgrade's hijack handler can take the socket from fasthttp.
type handoffListener struct{ net.Listener }

func (l handoffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*tls.Conn); ok {
		return &handoffTLSConn{handoffConn{Conn: tc}, tc}, nil
	}
	return &handoffConn{Conn: c}, nil
}

// handoffConn is a connection fasthttp serves until a hijack handler takes
// its socket (take): fasthttp, which does not keep hijacked connections,
// closes it once the handler returns, and that close then closes nothing.
type handoffConn struct {
	net.Conn
	taken atomic.Bool
}

// take hands the socket over to the caller, who closes it.
func (c *handoffConn) take() net.Conn {
	c.taken.Store(true)
	return c.Conn
}

func (c *handoffConn) Close() error {
	if c.taken.Load() {
		return nil
	}
	return c.Conn.Close()
}

// handoffTLSConn keeps a TLS connection's methods visible to fasthttp
// (RequestCtx.IsTLS, TLSConnectionState).
type handoffTLSConn struct {
	handoffConn
	tc *tls.Conn
}

func (c *handoffTLSConn) Handshake() error                     { return c.tc.Handshake() }
func (c *handoffTLSConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }
