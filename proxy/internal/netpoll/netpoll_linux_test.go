package netpoll

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

type chanHandler chan bool

func (h chanHandler) Ready(hup bool) { h <- hup }

// socketFD returns the descriptor of one end of a loopback TCP connection
// and the other end.
func socketFD(t *testing.T) (int, net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	rc, err := nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	rc.Control(func(s uintptr) { fd = int(s) })
	return fd, peer
}

// TestShards: sockets whose descriptors pick different epoll instances
// each get their Ready, and a cleared one gets none.
func TestShards(t *testing.T) {
	p, err := start(3)
	if err != nil {
		t.Skip("no epoll here:", err)
	}
	h := make(chanHandler, 16)
	var peers []net.Conn
	shards := map[int]bool{}
	for range 6 {
		fd, peer := socketFD(t)
		p.Set(fd, h)
		if err := p.Arm(fd, false, false); err != nil {
			t.Fatal(err)
		}
		peers = append(peers, peer)
		shards[fd%3] = true
	}
	if len(shards) < 2 {
		t.Fatalf("descriptors picked %d of 3 instances", len(shards))
	}
	cleared, cpeer := socketFD(t)
	p.Set(cleared, h)
	if err := p.Arm(cleared, false, false); err != nil {
		t.Fatal(err)
	}
	p.Clear(cleared, h)
	cpeer.Write([]byte("x"))
	for _, peer := range peers {
		peer.Write([]byte("x"))
	}
	for i := range peers {
		select {
		case <-h:
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d sockets got Ready", i, len(peers))
		}
	}
	select {
	case <-h:
		t.Error("a cleared socket's handler was called")
	case <-time.After(100 * time.Millisecond):
	}
	n := 0
	p.Each(func(Handler) { n++ })
	if n != len(peers) {
		t.Errorf("Each saw %d handlers, want %d", n, len(peers))
	}
}

// TestReadyAndFailure checks that a one-shot registration calls its
// handler when the socket is readable, and that a failing poller logs an
// error, calls every handler still registered and is no longer returned.
// It runs last in this binary: the poller stays failed.
func TestReadyAndFailure(t *testing.T) {
	p := Get()
	if p == nil {
		t.Skip("no epoll here")
	}
	fd, peer := socketFD(t)
	h := make(chanHandler, 2)
	p.Set(fd, h)
	if err := p.Arm(fd, false, false); err != nil {
		t.Fatal(err)
	}
	peer.Write([]byte("x"))
	select {
	case <-h:
	case <-time.After(5 * time.Second):
		t.Fatal("no Ready for a readable socket")
	}

	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)
	p.fail(errors.New("test failure"))
	select {
	case hup := <-h:
		if !hup {
			t.Error("Ready(false) on failure, want Ready(true)")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a registered handler was not called when the poller failed")
	}
	if Get() != nil {
		t.Error("Get returns a failed poller")
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "test failure") {
		t.Errorf("no error logged for the failure: %q", logs.String())
	}
}
