package proxy

import (
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

type netConn = net.Conn

func readClient(c net.Conn) ([]byte, ws.OpCode, error) { return wsutil.ReadClientData(c) }

func writeText(c net.Conn, s string) { _ = wsutil.WriteServerText(c, []byte(s)) }

func writeClose(c net.Conn, code ws.StatusCode, reason string) {
	_ = ws.WriteFrame(c, ws.NewCloseFrame(ws.NewCloseFrameBody(code, reason)))
	// Wait for the proxy's answer so the close is not lost to a reset.
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _, _ = wsutil.ReadClientData(c)
}

// listenSilent accepts TCP connections and never answers.
func listenSilent(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for _, c := range held {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func netDial(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return c, err
}

func httpGet(t testing.TB, addr, path string) int {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://%s%s", addr, path))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
