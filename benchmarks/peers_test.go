package benchmarks

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/proxy"
)

// Allocation-free WebSocket peers for benchmarks: everything they read and
// write goes through buffers made once, so allocations counted during a
// benchmark are the proxy's own.

// rawPeer reads and writes whole frames on one connection.
type rawPeer struct {
	nc   net.Conn
	br   *bufio.Reader
	hdr  []byte
	buf  []byte
	out  []byte
	mask bool
}

func newRawPeer(nc net.Conn, br *bufio.Reader, mask bool) *rawPeer {
	if br == nil {
		br = bufio.NewReaderSize(nc, 16<<10)
	}
	return &rawPeer{nc: nc, br: br, hdr: make([]byte, ws.MaxHeaderSize), buf: make([]byte, 0, 64<<10), out: make([]byte, 0, 64<<10), mask: mask}
}

// readMessage reads the next data frame's payload (unmasked), skipping
// control frames. The slice is valid until the next call.
func (p *rawPeer) readMessage() ([]byte, error) {
	for {
		h, err := ws.ReadHeaderBuffer(p.br, p.hdr)
		if err != nil {
			return nil, err
		}
		if int64(cap(p.buf)) < h.Length {
			p.buf = make([]byte, 0, h.Length)
		}
		b := p.buf[:h.Length]
		if _, err := io.ReadFull(p.br, b); err != nil {
			return nil, err
		}
		if h.Masked {
			ws.Cipher(b, h.Mask, 0)
		}
		if h.OpCode.IsControl() {
			if h.OpCode == ws.OpClose {
				return nil, io.EOF
			}
			continue
		}
		return b, nil
	}
}

// writeText writes msg as one text frame.
func (p *rawPeer) writeText(msg []byte) error {
	h := ws.Header{Fin: true, OpCode: ws.OpText, Length: int64(len(msg)), Masked: p.mask}
	h.Mask = [4]byte{1, 2, 3, 4}
	out := p.out[:ws.MaxHeaderSize]
	n := headerInto(out, h)
	out = append(out[:n], msg...)
	if p.mask {
		ws.Cipher(out[n:], h.Mask, 0)
	}
	p.out = out[:0]
	_, err := p.nc.Write(out)
	return err
}

// headerInto writes h at the start of b and returns its size; b must have
// room for the largest header (RFC 6455 section 5.2).
func headerInto(b []byte, h ws.Header) int {
	b[0] = byte(h.OpCode)
	if h.Fin {
		b[0] |= 0x80
	}
	var m byte
	if h.Masked {
		m = 0x80
	}
	n := 2
	switch {
	case h.Length < 126:
		b[1] = m | byte(h.Length)
	case h.Length <= 0xffff:
		b[1] = m | 126
		binary.BigEndian.PutUint16(b[2:], uint16(h.Length))
		n = 4
	default:
		b[1] = m | 127
		binary.BigEndian.PutUint64(b[2:], uint64(h.Length))
		n = 10
	}
	if h.Masked {
		n += copy(b[n:], h.Mask[:])
	}
	return n
}

// listenLoopback listens on a loopback port until tb ends and serves each
// connection with fn on a goroutine of its own.
func listenLoopback(tb testing.TB, fn func(net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fn(c)
			}()
		}
	}()
	tb.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// startEchoBackend runs a plain backend that answers each message with the
// same bytes, then marker when not empty; allocation-free after the upgrade.
func startEchoBackend(tb testing.TB, marker string) string {
	end := []byte(marker)
	addr := listenLoopback(tb, func(c net.Conn) {
		if _, err := ws.Upgrade(c); err != nil {
			return
		}
		p := newRawPeer(c, nil, false)
		for {
			msg, err := p.readMessage()
			if err != nil {
				return
			}
			if err := p.writeText(msg); err != nil {
				return
			}
			if len(end) > 0 {
				if err := p.writeText(end); err != nil {
					return
				}
			}
		}
	})
	return "ws://" + addr + "/"
}

// startProxy serves routes on a loopback port until the benchmark ends.
func startProxy(tb testing.TB, routes ...*proxy.Route) string {
	srv, err := proxy.New(proxy.Config{Routes: routes, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return ln.Addr().String()
}

// dialRaw connects a raw client to url.
func dialRaw(tb testing.TB, url string) *rawPeer {
	nc, br, _, err := ws.Dial(context.Background(), url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	return newRawPeer(nc, br, true)
}
