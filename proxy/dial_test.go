package proxy

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// listenFull returns the address of a listening socket on 127.0.0.1 whose
// accept queue is full, so a new connect gets no answer (Linux drops the
// SYN) and can only time out.
func listenFull(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Skip(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Skip(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Skip(err)
	}
	addr := (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*syscall.SockaddrInet4).Port}).String()
	// Fill the queue with connections nobody accepts.
	for range 4 {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	return addr
}

// TestDialTCPTimesOut checks that the connect deadline (connectDeadline, no
// context timer) bounds a connect nobody answers, with a timeout error.
func TestDialTCPTimesOut(t *testing.T) {
	addr := listenFull(t)
	start := time.Now()
	c, err := dialTCP(addr, 300*time.Millisecond)
	took := time.Since(start)
	if err == nil {
		c.Close()
		t.Skip("the full accept queue still answered (kernel settings): nothing to time out")
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("dial error %v, want a timeout", err)
	}
	if took < 250*time.Millisecond || took > 3*time.Second {
		t.Errorf("dial gave up after %v, want about 300ms", took)
	}
}

// TestDialTCPConnects checks the literal-address path connects.
func TestDialTCPConnects(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := dialTCP(ln.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
