package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/auth"
	"github.com/agentbridge/agentbridge/internal/redact"
	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
	"github.com/agentbridge/agentbridge/translators"
)

// dialError is a backend that could not be reached or refused the session,
// with the HTTP status the client gets before its upgrade.
type dialError struct {
	status int // 502, or 504 when the backend was too slow
	err    error
}

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// dial connects to a socket backend, runs the dialect's own handshake and
// returns the leg ready for user messages.
// ready is what a backend's handshake said: its raw greeting message and the
// agent it named.
type ready struct {
	raw   []byte
	agent []byte
}

func (s *Server) dial(ctx context.Context, rt *Route, params []Param, id auth.Identity) (*wsconn.Conn, translators.Codec, ready, error) {
	b := rt.Backend
	// Each backend connection gets an id of its own (translators.ConnIDParam),
	// after the route's parameters so that theirs win.
	params = append(params[:len(params):len(params)], Param{Name: translators.ConnIDParam, Value: string(newUUID())})
	rawURL := expandParams(b.URL, params)
	if r := b.Dialect.Resume; r != nil {
		// A leg that rejoins its conversation (session.rejoin), or a relay
		// whose client resumes, asks for the events after the one named.
		if v := paramValue(params, r.After); v != "" {
			rawURL = setQuery(rawURL, r.After, v)
		}
	}
	var hdr http.Header
	if len(b.Header) > 0 || b.IdentityHeader != "" {
		hdr = make(http.Header, len(b.Header)+1)
		for k, v := range b.Header {
			hdr.Set(k, v)
		}
		// Only the identity, and only when configured: never the client's
		// credential.
		if b.IdentityHeader != "" && id.Subject != "" {
			hdr.Set(b.IdentityHeader, id.Subject)
		}
	}
	nc, br, err := dialWS(ctx, b, rawURL, hdr)
	if err != nil {
		return nil, nil, ready{}, err
	}
	c := wsconn.New(nc, false, rt.Limits.WriteTimeout, s.readIdle())
	if br != nil {
		// Frames the backend sent right after its 101 are in br.
		p, _ := br.Peek(br.Buffered())
		c.Preload(p)
		ws.PutReader(br)
	}
	opts := b.Options
	opts.Role = translators.Backend
	opts.Params = params
	codec := b.Dialect.New(opts)
	rd, err := s.openBackend(c, codec, rt)
	if err != nil {
		c.CloseGracefully(ws.StatusNormalClosure, "", 0)
		return nil, nil, ready{}, err
	}
	return c, codec, rd, nil
}

// openBackend sends the dialect's greeting, if any, and for dialects with a
// handshake of their own waits for the backend's KindReady.
func (s *Server) openBackend(c *wsconn.Conn, codec translators.Codec, rt *Route) (ready, error) {
	b := rt.Backend
	open := translators.Event{Kind: translators.KindOpen}
	out, err := codec.Encode(nil, &open)
	if err != nil {
		return ready{}, &dialError{502, err}
	}
	if len(out) > 0 {
		if err := c.WriteFrame(opcode(b.Dialect), out); err != nil {
			return ready{}, &dialError{502, fmt.Errorf("backend %q: %w", b.Name, err)}
		}
	}
	if !b.Dialect.Handshake {
		return ready{}, nil
	}
	c.SetReadDeadline(time.Now().Add(b.HandshakeTimeout))
	idle := c.SetReadIdle(0)
	defer c.SetReadIdle(idle)
	var (
		msg []byte
		evs []translators.Event
	)
	for {
		var err error
		_, msg, err = c.ReadMessage(msg, rt.Limits.MaxMessage)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return ready{}, &dialError{504, fmt.Errorf("backend %q sent no ready message in time", b.Name)}
			}
			return ready{}, &dialError{502, fmt.Errorf("backend %q failed its handshake: %v", b.Name, err)}
		}
		evs, err = codec.Decode(evs[:0], msg)
		if err != nil {
			return ready{}, &dialError{502, fmt.Errorf("backend %q sent a malformed handshake: %v", b.Name, err)}
		}
		for _, ev := range evs {
			switch ev.Kind {
			case translators.KindReply:
				// The dialect answers the backend on its own leg (a ping
				// before the ready message): a copy, as WriteFrame masks it.
				if err := c.WriteFrame(opcode(b.Dialect), append([]byte(nil), ev.Raw...)); err != nil {
					return ready{}, &dialError{502, fmt.Errorf("backend %q: %w", b.Name, err)}
				}
			case translators.KindReady:
				c.SetReadDeadline(time.Time{})
				return ready{raw: append([]byte(nil), msg...), agent: append([]byte(nil), ev.Agent...)}, nil
			case translators.KindError:
				return ready{}, &dialError{502, fmt.Errorf("backend %q refused the session: %s", b.Name, ev.Text)}
			}
		}
	}
}

func opcode(d translators.Dialect) ws.OpCode {
	if d.Binary {
		return ws.OpBinary
	}
	return ws.OpText
}

// expandParams fills "{name}" in a backend URL with the matched route
// parameters, each escaped for the part of the URL it lands in, so a value
// can never change the URL's shape: a path segment before the '?', a query
// value after it, and, in the scheme and host, an escape of everything
// but letters, digits and "-._~" (a host with '%' fails to parse).
func expandParams(s string, params []Param) string {
	if len(params) == 0 || !strings.Contains(s, "{") {
		return s
	}
	head, path := s, ""
	if i := pathStart(s); i >= 0 {
		head, path = s[:i], s[i:]
	}
	path, query, hasQuery := strings.Cut(path, "?")
	for _, p := range params {
		ph := "{" + p.Name + "}"
		head = strings.ReplaceAll(head, ph, url.QueryEscape(p.Value))
		path = strings.ReplaceAll(path, ph, url.PathEscape(p.Value))
		query = strings.ReplaceAll(query, ph, url.QueryEscape(p.Value))
	}
	if hasQuery {
		return head + path + "?" + query
	}
	return head + path
}

// pathStart returns the index of the path (or, when the URL has no path, of
// the query) in an absolute URL, or -1 when it has neither.
func pathStart(s string) int {
	_, rest, ok := strings.Cut(s, "://")
	if !ok {
		return -1
	}
	i := strings.IndexAny(rest, "/?")
	if i < 0 {
		return -1
	}
	return len(s) - len(rest) + i
}

// dialWS connects to a backend's WebSocket URL: the TCP connect bounded by
// DialTimeout, then TLS for wss and the upgrade, bounded by HandshakeTimeout.
func dialWS(ctx context.Context, b *Backend, rawURL string, hdr http.Header) (net.Conn, *bufio.Reader, error) {
	u, err := b.parseURL(rawURL)
	if err != nil {
		return nil, nil, &dialError{502, badURL(b, rawURL, err)}
	}
	addr := u.Host
	if u.Port() == "" {
		if u.Scheme == "wss" {
			addr = net.JoinHostPort(u.Hostname(), "443")
		} else {
			addr = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	nc, err := dialTCP(addr, b.DialTimeout)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, nil, &dialError{504, fmt.Errorf("backend %q: connect timed out", b.Name)}
		}
		return nil, nil, &dialError{502, fmt.Errorf("backend %q unreachable: %w", b.Name, err)}
	}
	_ = nc.SetDeadline(time.Now().Add(b.HandshakeTimeout))
	if u.Scheme == "wss" {
		tc := tls.Client(nc, b.tlsConfig(u.Hostname()))
		if err := tc.Handshake(); err != nil {
			nc.Close()
			return nil, nil, handshakeError(b, err, 0)
		}
		nc = tc
	}
	var status int
	d := ws.Dialer{
		Header: ws.HandshakeHeaderHTTP(hdr),
		OnStatusError: func(st int, _ []byte, _ io.Reader) {
			status = st
		},
	}
	br, _, err := d.Upgrade(nc, u)
	if err != nil {
		nc.Close()
		return nil, nil, handshakeError(b, err, status)
	}
	_ = nc.SetDeadline(time.Time{})
	return nc, br, nil
}

// badURL describes a backend URL that does not parse without the
// credentials it may carry: url.Parse's error holds the whole URL.
func badURL(b *Backend, rawURL string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("backend %q: bad URL %s: %v", b.Name, redact.URL(rawURL), err)
}

// dialTCP connects to addr within timeout. net's connect puts a context's
// deadline on the socket's write deadline; a context that has a deadline
// but is never cancelled (connectDeadline) lets it do only that, without
// the timer, channel and cancel funcs a context.WithTimeout costs: some
// allocations less per backend connection.
// Host names go the usual way, so the deadline covers their lookup too.
func dialTCP(addr string, timeout time.Duration) (net.Conn, error) {
	if _, err := netip.ParseAddrPort(addr); err != nil || timeout <= 0 {
		return net.DialTimeout("tcp", addr, timeout)
	}
	var d net.Dialer
	return d.DialContext(&connectDeadline{at: time.Now().Add(timeout)}, "tcp", addr)
}

// connectDeadline is a context with a deadline that is never cancelled:
// Done is a channel never closed, and AfterFunc (which net's connect uses
// to abort on cancellation) never calls its func.
type connectDeadline struct{ at time.Time }

var neverDone = make(chan struct{})

func (c *connectDeadline) Deadline() (time.Time, bool)  { return c.at, true }
func (c *connectDeadline) Done() <-chan struct{}        { return neverDone }
func (c *connectDeadline) Err() error                   { return nil }
func (c *connectDeadline) Value(any) any                { return nil }
func (c *connectDeadline) AfterFunc(func()) func() bool { return stopNothing }

func stopNothing() bool { return true }

func handshakeError(b *Backend, err error, status int) error {
	switch {
	case status != 0:
		return &dialError{502, fmt.Errorf("backend %q answered the handshake with HTTP %d", b.Name, status)}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &dialError{504, fmt.Errorf("backend %q did not complete the handshake in time", b.Name)}
	}
	return &dialError{502, fmt.Errorf("backend %q handshake failed: %w", b.Name, err)}
}

// parseURL parses a backend URL; the configured one, without route
// parameters, is parsed once.
func (b *Backend) parseURL(rawURL string) (*url.URL, error) {
	if rawURL != b.URL {
		return url.Parse(rawURL)
	}
	b.urlOnce.Do(func() { b.url, b.urlErr = url.Parse(b.URL) })
	return b.url, b.urlErr
}

// setQuery returns rawURL with its query parameter name set to value: the
// first one's value replaced, or the parameter added.
func setQuery(rawURL, name, value string) string {
	base, frag, _ := strings.Cut(rawURL, "#")
	path, query, _ := strings.Cut(base, "?")
	parts := strings.Split(query, "&")
	set := false
	for i, p := range parts {
		if k, _, _ := strings.Cut(p, "="); k == name && !set {
			parts[i] = name + "=" + url.QueryEscape(value)
			set = true
		}
	}
	if !set {
		parts = append(parts, name+"="+url.QueryEscape(value))
	}
	query = strings.Join(parts, "&")
	query = strings.TrimPrefix(query, "&")
	out := path + "?" + query
	if frag != "" {
		out += "#" + frag
	}
	return out
}
