//go:build linux

// Command idle opens N WebSocket connections through a target, holds them,
// and prints one JSON line: the watched processes' VmRSS delta
// (/proc/PID/status) per connection in KiB after the handshakes and again
// after one echo message on each connection, plus the system-wide kernel
// Slab delta per connection (/proc/meminfo), for reference.
//
// The soft nofile limit is raised to the hard one and N is capped to fit.
// Measure a freshly started target: a process that already served
// connections reuses freed memory and hides the per-connection cost.
// Linux only: it reads /proc.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/agentbridge/agentbridge/benchmarks/harness/internal/bench"
)

// Result is the JSON line printed at the end.
type Result struct {
	Kind, Scenario, Target string
	Rep                    int
	Mode                   string
	Requested, Conns       int
	Errors                 int
	RSSBeforeKiB           int64
	KiBPerConnHandshake    float64
	KiBPerConnMessage      float64
	SlabKiBPerConn         float64
	AllocsPerConnSetup     *float64 `json:",omitempty"` // proxy allocations per upgrade + backend dial, with -expvar
	AllocsPerMessage       *float64 `json:",omitempty"` // proxy allocations per connection's one message and its reply, with -expvar
	FirstError             string   `json:",omitempty"`
}

func main() {
	url := flag.String("url", "ws://127.0.0.1:19000/", "target ws:// URL (loopback only); {conn} in it is replaced by the connection's number")
	mode := flag.String("mode", "plain", "client dialect: plain, connic or agents")
	n := flag.Int("n", 5000, "connections to open (capped by the nofile limit)")
	pidsFlag := flag.String("pids", "", "comma-separated PIDs whose RSS is measured")
	settle := flag.Duration("settle", time.Second, "wait before each RSS sample")
	timeout := flag.Duration("timeout", 90*time.Second, "overall deadline")
	scenario := flag.String("scenario", "idle", "label copied to the output")
	target := flag.String("target", "", "label copied to the output")
	rep := flag.Int("rep", 0, "label copied to the output")
	expvarURL := flag.String("expvar", "", "http URL of the target's Go expvar, to count allocations per connection (optional)")
	heapURL := flag.String("heap", "", "http URL of the target's heap profile (/debug/pprof/heap), fetched with gc=1 before the connections, after the handshakes and after the messages (optional)")
	heapOut := flag.String("heapout", "heap", "with -heap: the profiles are written to <heapout>-0.pb.gz, -1 and -2")
	flag.Parse()
	pids, err := bench.ParsePIDs(*pidsFlag)
	if err != nil || len(pids) == 0 {
		fmt.Fprintln(os.Stderr, "idle: -pids required:", err)
		os.Exit(2)
	}
	r := Result{Kind: "idle", Scenario: *scenario, Target: *target, Rep: *rep, Mode: *mode, Requested: *n}
	// Raise the soft nofile limit to the hard one; keep 64 descriptors spare.
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
		*n = min(*n, int(lim.Cur)-64)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	time.Sleep(*settle)
	rss0, err := bench.RSSKiB(pids)
	if err != nil {
		fmt.Fprintln(os.Stderr, "idle:", err)
		os.Exit(2)
	}
	slab0 := bench.SlabKiB()
	r.RSSBeforeKiB = rss0
	heap := func(i int) {
		if *heapURL != "" {
			if err := saveHeap(*heapURL, fmt.Sprintf("%s-%d.pb.gz", *heapOut, i)); err != nil {
				fmt.Fprintln(os.Stderr, "idle: heap profile:", err)
			}
		}
	}
	heap(0)
	var mallocs *bench.MallocCounter
	if *expvarURL != "" {
		if mallocs, err = bench.StartMallocs(*expvarURL); err != nil {
			fmt.Fprintln(os.Stderr, "idle:", err)
			os.Exit(2)
		}
	}

	conns := make([]*bench.Conn, *n)
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		r.Errors++
		if r.FirstError == "" {
			r.FirstError = err.Error()
		}
		mu.Unlock()
	}
	// Phase 1: handshakes, 32 at a time so no listen backlog overflows.
	forEach(conns, func(i int, _ *bench.Conn) {
		c, err := bench.Dial(ctx, bench.ConnURL(*url, i), 10*time.Second)
		if err == nil && *mode == "agents" {
			_ = c.NC.SetReadDeadline(time.Now().Add(10 * time.Second))
			err = bench.AgentsReady(c)
		}
		if err == nil && *mode == "connic" {
			_ = c.NC.SetReadDeadline(time.Now().Add(10 * time.Second))
			var m []byte
			if m, err = c.ReadMessage(); err == nil && !bytes.Contains(m, []byte(`"connected"`)) {
				err = fmt.Errorf("first frame is not connected: %.80s", m)
			}
		}
		if err != nil {
			fail(err)
			if c != nil {
				c.NC.Close()
			}
			return
		}
		conns[i] = c
	})
	for _, c := range conns {
		if c != nil {
			r.Conns++
		}
	}
	if r.Conns == 0 {
		out(r)
		return
	}
	time.Sleep(*settle)
	rss1, _ := bench.RSSKiB(pids)
	r.KiBPerConnHandshake = float64(rss1-rss0) / float64(r.Conns)
	r.SlabKiBPerConn = float64(bench.SlabKiB()-slab0) / float64(r.Conns)
	heap(1)
	if *expvarURL != "" {
		if m, err := mallocs.Since(); err == nil {
			per := m / float64(r.Conns)
			r.AllocsPerConnSetup = &per
		}
	}

	// Phase 2: one echo (plain) or one one-chunk reply (Connic, agents) per
	// connection.
	if *expvarURL != "" {
		if mallocs, err = bench.StartMallocs(*expvarURL); err != nil {
			fmt.Fprintln(os.Stderr, "idle:", err)
			os.Exit(2)
		}
	}
	forEach(conns, func(i int, c *bench.Conn) {
		if c == nil {
			return
		}
		if err := oneMessage(c, *mode, i); err != nil {
			fail(err)
		}
	})
	if *expvarURL != "" {
		if m, err := mallocs.Since(); err == nil {
			per := m / float64(r.Conns)
			r.AllocsPerMessage = &per
		}
	}
	time.Sleep(*settle)
	rss2, _ := bench.RSSKiB(pids)
	r.KiBPerConnMessage = float64(rss2-rss0) / float64(r.Conns)
	heap(2)
	forEach(conns, func(_ int, c *bench.Conn) {
		if c != nil {
			c.Close()
		}
	})
	out(r)
}

// forEach runs f on every element, 32 at a time.
func forEach(conns []*bench.Conn, f func(int, *bench.Conn)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i, c := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(i, c)
		}()
	}
	wg.Wait()
}

func oneMessage(c *bench.Conn, mode string, i int) error {
	_ = c.NC.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.NC.SetDeadline(time.Time{})
	id := "i" + strconv.Itoa(i)
	if mode == "connic" {
		if err := c.WriteText([]byte(`{"type":"message","id":"` + id + `","payload":{"message":"r ` + id + ` 1 64 0"}}`)); err != nil {
			return err
		}
		for {
			m, err := c.ReadMessage()
			if err != nil {
				return err
			}
			if bytes.Contains(m, []byte(`"stream_end"`)) || bytes.Contains(m, []byte(`"type":"response"`)) {
				return nil
			}
		}
	}
	if mode == "agents" {
		line := []byte("r " + id + " 1 64 0")
		if err := c.WriteText(bench.AgentsChatRequest(nil, []byte(id), line)); err != nil {
			return err
		}
		for {
			m, err := c.ReadMessage()
			if err != nil {
				return err
			}
			if bytes.Contains(m, []byte(`"error":true`)) {
				return fmt.Errorf("error frame: %.120s", m)
			}
			if bytes.Contains(m, []byte(`"done":true`)) {
				return nil
			}
		}
	}
	msg := []byte("e " + id + " 128-byte-ish idle message padding padding padding padding padding padding padding padding padding padding pad")
	if err := c.WriteText(msg); err != nil {
		return err
	}
	m, err := c.ReadMessage()
	if err == nil && !bytes.Equal(m, msg) {
		err = fmt.Errorf("echo mismatch: %.80s", m)
	}
	return err
}

// saveHeap writes the heap profile at url, taken after a GC, to file.
// The RSS was sampled before: the profile's own allocations do not count.
func saveHeap(url, file string) error {
	if err := bench.CheckLoopback(url); err != nil {
		return err
	}
	resp, err := http.Get(url + "?gc=1")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func out(r Result) {
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}
