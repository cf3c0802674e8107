// Package bench holds what the harness programs share: a small,
// allocation-light WebSocket frame reader/writer over gobwas/ws, and
// /proc readers for CPU time and resident memory.
package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// MaxMessage bounds one reassembled message; larger ones are an error.
const MaxMessage = 1 << 20

// Conn is one WebSocket connection, client or server side. ReadMessage's
// result is valid until the next call; every WriteText is one write(2).
// Writes are safe for concurrent use (ReadMessage writes pongs and closes),
// reads are not.
type Conn struct {
	NC     net.Conn
	br     *bufio.Reader
	client bool // mask outgoing frames
	mask   [4]byte
	hb     [ws.MaxHeaderSize]byte
	in     []byte
	wmu    sync.Mutex // guards out and the frame's write
	out    []byte
}

// NewConn wraps an upgraded connection. br may be nil.
func NewConn(nc net.Conn, br *bufio.Reader, client bool, bufSize int) *Conn {
	if br == nil {
		br = bufio.NewReaderSize(nc, bufSize)
	}
	c := &Conn{NC: nc, br: br, client: client}
	if client {
		_, _ = rand.Read(c.mask[:])
	}
	return c
}

// ConnURL returns rawURL with "{conn}" replaced by the connection's number
// n, so that each connection of a run can have a path of its own (an
// Agents SDK route shares a path's replies between its sockets), and
// "{run}" by a number drawn once per process, so that one run does not
// take over the conversations an earlier one left (an OpenHands route
// keeps them for session.resume_window).
func ConnURL(rawURL string, n int) string {
	return strings.ReplaceAll(strings.ReplaceAll(rawURL, "{conn}", strconv.Itoa(n)), "{run}", runID)
}

var runID = func() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x", b)
}()

// Dial opens a client connection to a ws:// URL on a loopback address.
func Dial(ctx context.Context, rawURL string, timeout time.Duration) (*Conn, error) {
	if err := CheckLoopback(rawURL); err != nil {
		return nil, err
	}
	d := ws.Dialer{Timeout: timeout, ReadBufferSize: 16 << 10}
	nc, br, _, err := d.Dial(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	return NewConn(nc, br, true, 16<<10), nil
}

// CheckLoopback refuses URLs whose host is not 127.0.0.1, ::1 or localhost.
func CheckLoopback(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	switch u.Hostname() {
	case "127.0.0.1", "::1", "localhost":
		return nil
	}
	return fmt.Errorf("%s: only loopback targets are allowed", rawURL)
}

// AppendHeader appends a final frame header for n payload bytes.
func AppendHeader(b []byte, op ws.OpCode, n int, mask *[4]byte) []byte {
	b = append(b, 0x80|byte(op))
	var m byte
	if mask != nil {
		m = 0x80
	}
	switch {
	case n < 126:
		b = append(b, m|byte(n))
	case n <= 0xffff:
		b = append(b, m|126, byte(n>>8), byte(n))
	default:
		b = append(b, m|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	if mask != nil {
		b = append(b, mask[:]...)
	}
	return b
}

// WriteFrame writes one frame of opcode op carrying p, in one write.
func (c *Conn) WriteFrame(op ws.OpCode, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var mk *[4]byte
	if c.client {
		mk = &c.mask
	}
	c.out = AppendHeader(c.out[:0], op, len(p), mk)
	start := len(c.out)
	c.out = append(c.out, p...)
	if c.client {
		ws.Cipher(c.out[start:], c.mask, 0)
	}
	_, err := c.NC.Write(c.out)
	return err
}

// WriteText writes one text frame.
func (c *Conn) WriteText(p []byte) error { return c.WriteFrame(ws.OpText, p) }

// ErrClosed is returned by ReadMessage when the peer sent a close frame.
var ErrClosed = errors.New("websocket closed by peer")

// ReadMessage returns the next text or binary message, reassembling
// fragments, answering pings and returning ErrClosed on a close frame.
func (c *Conn) ReadMessage() ([]byte, error) {
	c.in = c.in[:0]
	for {
		h, err := ws.ReadHeaderBuffer(c.br, c.hb[:])
		if err != nil {
			return nil, err
		}
		if h.Length > MaxMessage || int64(len(c.in))+h.Length > MaxMessage {
			return nil, fmt.Errorf("message over %d bytes", MaxMessage)
		}
		n := int(h.Length)
		if h.OpCode.IsControl() {
			var ctl [125]byte
			p := ctl[:n]
			if _, err := io.ReadFull(c.br, p); err != nil {
				return nil, err
			}
			if h.Masked {
				ws.Cipher(p, h.Mask, 0)
			}
			switch h.OpCode {
			case ws.OpPing:
				if err := c.WriteFrame(ws.OpPong, p); err != nil {
					return nil, err
				}
			case ws.OpClose:
				_ = c.WriteFrame(ws.OpClose, p)
				return nil, ErrClosed
			}
			continue
		}
		start := len(c.in)
		if cap(c.in)-start < n {
			grown := make([]byte, start, max(2*cap(c.in), start+n, 512))
			copy(grown, c.in)
			c.in = grown
		}
		c.in = c.in[:start+n]
		if _, err := io.ReadFull(c.br, c.in[start:]); err != nil {
			return nil, err
		}
		if h.Masked {
			ws.Cipher(c.in[start:], h.Mask, 0)
		}
		if h.Fin {
			return c.in, nil
		}
	}
}

// Close sends a normal close frame and closes the socket.
func (c *Conn) Close() error {
	_ = c.NC.SetWriteDeadline(time.Now().Add(time.Second))
	_ = c.WriteFrame(ws.OpClose, []byte{0x03, 0xe8})
	return c.NC.Close()
}
