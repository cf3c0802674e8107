package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gobwas/ws"

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
func (s *Server) dial(ctx context.Context, rt *Route, params []Param) (*conn, translators.Codec, error) {
	b := rt.Backend
	url := expandParams(b.URL, params)
	var hdr http.Header
	if len(b.Header) > 0 {
		hdr = make(http.Header, len(b.Header))
		for k, v := range b.Header {
			hdr.Set(k, v)
		}
	}
	var status int
	d := ws.Dialer{
		Timeout: b.DialTimeout + b.HandshakeTimeout,
		NetDial: (&net.Dialer{Timeout: b.DialTimeout}).DialContext,
		Header:  ws.HandshakeHeaderHTTP(hdr),
		OnStatusError: func(st int, _ []byte, _ io.Reader) {
			status = st
		},
	}
	ctx, cancel := context.WithTimeout(ctx, b.DialTimeout+b.HandshakeTimeout)
	defer cancel()
	nc, br, _, err := d.Dial(ctx, url)
	if err != nil {
		switch {
		case status != 0:
			err = fmt.Errorf("backend %q answered the handshake with HTTP %d", b.Name, status)
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
			return nil, nil, &dialError{504, fmt.Errorf("backend %q did not answer in time", b.Name)}
		default:
			err = fmt.Errorf("backend %q unreachable: %w", b.Name, err)
		}
		return nil, nil, &dialError{502, err}
	}
	c := newConn(nc, false, rt.Limits.WriteTimeout, s.readIdle())
	if br != nil {
		// Frames the backend sent right after its 101 are in br.
		c.rb = getBuf()
		c.w, _ = br.Read(c.rb[:])
		ws.PutReader(br)
	}
	opts := b.Options
	opts.Role = translators.Backend
	codec := b.Dialect.New(opts)
	if err := s.openBackend(c, codec, rt); err != nil {
		c.closeGracefully(ws.StatusNormalClosure, "", 0)
		return nil, nil, err
	}
	return c, codec, nil
}

// openBackend sends the dialect's greeting, if any, and for dialects with a
// handshake of their own waits for the backend's KindReady.
func (s *Server) openBackend(c *conn, codec translators.Codec, rt *Route) error {
	b := rt.Backend
	open := translators.Event{Kind: translators.KindOpen}
	out, err := codec.Encode(nil, &open)
	if err != nil {
		return &dialError{502, err}
	}
	if len(out) > 0 {
		if err := c.writeFrame(opcode(b.Dialect), out); err != nil {
			return &dialError{502, fmt.Errorf("backend %q: %w", b.Name, err)}
		}
	}
	if !b.Dialect.Handshake {
		return nil
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(b.HandshakeTimeout))
	idle := c.readIdle
	c.readIdle = 0
	defer func() { c.readIdle = idle }()
	var (
		msg []byte
		evs []translators.Event
	)
	for {
		var err error
		_, msg, err = c.readMessage(msg, rt.Limits.MaxMessage)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return &dialError{504, fmt.Errorf("backend %q sent no ready message in time", b.Name)}
			}
			return &dialError{502, fmt.Errorf("backend %q failed its handshake: %v", b.Name, err)}
		}
		evs, err = codec.Decode(evs[:0], msg)
		if err != nil {
			return &dialError{502, fmt.Errorf("backend %q sent a malformed handshake: %v", b.Name, err)}
		}
		for _, ev := range evs {
			switch ev.Kind {
			case translators.KindReady:
				return nil
			case translators.KindError:
				return &dialError{502, fmt.Errorf("backend %q refused the session: %s", b.Name, ev.Text)}
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

// expandParams replaces "{name}" in s with the matched route parameters.
func expandParams(s string, params []Param) string {
	if !strings.Contains(s, "{") {
		return s
	}
	for _, p := range params {
		s = strings.ReplaceAll(s, "{"+p.Name+"}", p.Value)
	}
	return s
}
