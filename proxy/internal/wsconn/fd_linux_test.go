package wsconn

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
	"unsafe"
)

// TestCloseWaitsForCallOnDescriptor checks the Conn's own guard of the
// descriptor its non-waiting calls use: Close during such a call closes the
// socket only when the call returns, and after Close no call reaches the
// descriptor number, even once another socket has taken it.
func TestCloseWaitsForCallOnDescriptor(t *testing.T) {
	nc, peer := tcpPair(t)
	c := New(nc, false, time.Second, 0)
	if c.raw == nil {
		t.Fatal("a TCP connection is not read raw")
	}
	fd := c.raw.fd
	ln, err := net.Listen("tcp", "127.0.0.1:0") // before Close: it must not take fd's number
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	if !c.raw.hold() {
		t.Fatal("hold failed on an open connection")
	}
	c.Close()
	peer.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := peer.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the socket closed under a call in flight: the peer read %v", err)
	}
	c.raw.drop()
	peer.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := peer.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the socket stayed open after the last call: the peer read %v, want EOF", err)
	}

	// The next socket made most likely takes the freed number.
	var other, otherPeer net.Conn
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	switch fd {
	case fdOf(t, d):
		other, otherPeer = d, a
	case fdOf(t, a):
		other, otherPeer = a, d
	}
	if _, err := c.WriteNow([]byte("leak")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteNow after Close: %v, want net.ErrClosed", err)
	}
	if other == nil {
		t.Log("no new socket took the closed descriptor's number; checked the error only")
		return
	}
	otherPeer.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := otherPeer.Read(make([]byte, 16)); n > 0 {
		t.Fatalf("a write on the closed Conn reached the socket that took its descriptor (%d bytes, %v)", n, err)
	}
}

func fdOf(t *testing.T, nc net.Conn) int {
	rc, err := nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	rc.Control(func(d uintptr) { fd = int(d) })
	return fd
}

// TestConnSizeClass keeps the Conn in the size class its doc comment
// names: at most 512 bytes, where the allocator puts no header.
func TestConnSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 512 {
		t.Errorf("a Conn is %d bytes: past the 512-byte size class (see its doc comment)", n)
	}
}
