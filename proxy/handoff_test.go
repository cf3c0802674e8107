package proxy

import (
	"crypto/tls"
	"net"
	"testing"
)

// A socket taken from its handoffConn outlives the close fasthttp makes
// after the hijack handler; one not taken is closed by it, and a TLS one
// still looks like TLS to fasthttp (RequestCtx.IsTLS).
func TestHandoffConn(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	hc := &handoffConn{Conn: a}
	nc := hc.take()
	if err := hc.Close(); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = nc.Write([]byte("x")) }()
	buf := make([]byte, 1)
	if _, err := b.Read(buf); err != nil {
		t.Fatalf("taken socket closed by the handoffConn's Close: %v", err)
	}
	nc.Close()

	c, d := net.Pipe()
	defer d.Close()
	if err := (&handoffConn{Conn: c}).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Fatal("a socket not taken stays open after the handoffConn's Close")
	}

	var conn net.Conn = &handoffTLSConn{tc: tls.Server(c, &tls.Config{})}
	if _, ok := conn.(interface {
		Handshake() error
		ConnectionState() tls.ConnectionState
	}); !ok {
		t.Fatal("handoffTLSConn hides the TLS connection's methods")
	}
}
