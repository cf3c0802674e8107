// Command tunnel is the benchmark's Go yardstick: the smallest WebSocket
// proxy Go makes, as performance.md's tunnel relay. It upgrades the client
// with gobwas/ws's zero-copy Upgrader, dials the backend, then copies bytes
// both ways, one goroutine per direction, with 16 KiB buffers and plain
// read(2)/write(2) under the runtime poller (no splice, which the other
// targets cannot use). It parses no frame and checks nothing, so its CPU per
// frame is the floor for a Go proxy built on goroutines and the runtime
// poller: what the runtime costs beside nginx, before any proxy logic.
//
// Loopback only; the process exits after -lifetime.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"time"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/benchmarks/harness/internal/bench"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18090", "listen address")
	backend := flag.String("backend", "ws://127.0.0.1:19000/", "backend URL")
	lifetime := flag.Duration("lifetime", 30*time.Minute, "exit after this long")
	flag.Parse()
	if err := bench.CheckLoopback(*backend); err != nil {
		log.Fatal(err)
	}
	go bench.Serve(bench.Listen(*listen), func(c net.Conn) { proxy(c, *backend) })
	time.Sleep(*lifetime)
	fmt.Fprintln(os.Stderr, "tunnel: lifetime over")
}

// proxy serves one client: upgrade, dial, then copy until either side ends.
func proxy(c net.Conn, backend string) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := (ws.Upgrader{}).Upgrade(c); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	b, br, _, err := ws.Dial(ctx, backend)
	cancel()
	if err != nil {
		return
	}
	defer b.Close()
	_ = c.SetDeadline(time.Time{})
	var fromBackend io.Reader = b
	if br != nil {
		fromBackend = io.MultiReader(br, b) // bytes the backend sent with its 101
	}
	go func() {
		pipe(b, c)
		b.Close()
		c.Close()
	}()
	pipe(c, fromBackend)
}

// pipe copies src to dst with one read and one write per batch.
func pipe(dst io.Writer, src io.Reader) {
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
