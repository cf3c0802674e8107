// Command load drives C client connections against a target (the agent
// directly, nginx, or agentbridge) for a fixed duration and prints one JSON
// line of results.
//
// Each connection sends requests "r <id> <k> <size> <interval_us>" (or, with
// -echo, "e <id> <padding>" of -size bytes) and reads the whole reply before
// the next one, or keeps -depth requests in flight (pipelining). Every reply
// frame is checked against its request's id; a wrong id is an id mismatch, a
// wrong frame count or an error frame is an error.
//
// Frames are counted as the backend emitted them (k chunks + the end = k+1
// per streamed request, 1 per echo) whatever the client dialect, so Connic
// clients, which also receive ack and stream_start (or one whole "response"
// when the route does not stream; counted in WholeReplies), and Wiro clients
// (a REST send, then a subscription; wiro.go) and Agents SDK chat clients
// (agents.go) are comparable with plain ones; FramesRecv counts what the client actually received. With -pids, the watched processes' utime+stime delta
// (/proc/PID/stat, 10 ms resolution) is divided by those frames.
//
// Allocations per frame need a counter exposed by the target: -expvar takes
// a Go expvar URL (/debug/vars, memstats.Mallocs). agentbridge exposes none
// yet, so the field is null there.
//
// Slow streams (the agent-traffic scenarios): -think makes the backend pause
// before a reply's first chunk, -minsize varies the chunk sizes between it
// and -size (bench.ChunkSize; every chunk is checked exactly), and -gap
// spaces a connection's turns by a random pause, uniform in [0, 2×gap), the
// first one included, so that turns start at a steady rate over the window
// rather than all at once. With -gap the warm-up is -warmup short unpaced
// replies (k ≤ 20). Paced runs (-interval) also report the inter-frame
// jitter, |arrival gap − interval| between consecutive chunks of a reply,
// and every run the watched processes' RSS growth per connection between
// before the connections and the end of the window (ProxyKiBPerConn).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentbridge/agentbridge/benchmarks/harness/internal/bench"
)

type config struct {
	url, mode         string
	conns, k, size    int
	depth             int
	interval          time.Duration
	think, gap        time.Duration // slow streams: the backend's pause before a reply, the pause between turns
	minSize, warmup   int
	echo              bool
	end               []byte // plain: the message that ends a streamed reply
	api, key          string // wiro: the REST base URL and the x-api-key
	duration, timeout time.Duration
}

// Result is the JSON line printed at the end.
type Result struct {
	Kind, Scenario, Target string
	Rep                    int
	Mode                   string
	Conns, K, Size, Depth  int
	IntervalUs             int64
	Echo                   bool
	Seconds                float64
	Requests, Frames       int64
	FramesRecv             int64
	FramesPerS, MsgsPerS   float64
	RTTP50Us, RTTP90Us     float64
	RTTP99Us, RTTMaxUs     float64
	FirstP50Us, FirstP99Us float64
	FirstP999Us            float64
	ThinkUs, GapUs         int64
	MinSize                int
	JitterP50Us            float64 // paced: |arrival gap − interval| between a reply's chunks
	JitterP99Us            float64
	JitterP999Us           float64
	ProxyKiBPerConn        *float64 // watched RSS growth from before the connections to the end of the window, per connection
	Errors, IDMismatches   int64
	WholeReplies           int64 // Connic: replies received as one "response" frame, not streamed
	ProxyCPUUsPerFrame     *float64
	ClientCPUUsPerFrame    float64
	AllocsPerFrame         *float64
	AllocsNote             string `json:",omitempty"`
	FirstError             string `json:",omitempty"`
}

type worker struct {
	rtt, first         []time.Duration
	jitter             []time.Duration
	last               time.Time // arrival of the reply's previous chunk
	rng                uint64    // -gap pauses
	want               []byte    // -minsize: the expected chunk
	requests, frames   int64
	recv               int64
	errors, mismatches int64
	whole              int64 // Connic replies that came as one "response"
	firstErr           error
	line               []byte // agents: the request line, before it is wrapped
}

func main() {
	var cfg config
	var pids, expvarURL, scenario, target string
	var rep int
	flag.StringVar(&cfg.url, "url", "ws://127.0.0.1:19000/", "target ws:// URL (loopback only); {conn} in it is replaced by the connection's number")
	flag.StringVar(&cfg.mode, "mode", "plain", "client dialect: plain, connic, wiro, agents or openhands")
	flag.StringVar(&cfg.key, "key", "bench-key", "wiro mode: the x-api-key of the REST send")
	flag.IntVar(&cfg.conns, "c", 50, "connections")
	flag.IntVar(&cfg.k, "k", 20, "chunks per reply")
	flag.IntVar(&cfg.size, "size", 64, "chunk size (echo: message size) in bytes")
	flag.IntVar(&cfg.depth, "depth", 1, "requests in flight per connection")
	flag.DurationVar(&cfg.interval, "interval", 0, "pause between chunks (paced streaming)")
	flag.DurationVar(&cfg.think, "think", 0, "backend's pause before a reply's first chunk (slow streams)")
	flag.DurationVar(&cfg.gap, "gap", 0, "mean pause before each turn of a connection, uniform in [0, 2×gap) (slow streams)")
	flag.IntVar(&cfg.minSize, "minsize", 0, "chunk sizes vary from this to -size (0: all -size)")
	flag.IntVar(&cfg.warmup, "warmup", 3, "requests per connection before the window (with -gap: short unpaced ones)")
	flag.BoolVar(&cfg.echo, "echo", false, "request/response echo instead of streaming")
	end := flag.String("end", "[DONE]", "plain mode: the message that ends a streamed reply")
	flag.DurationVar(&cfg.duration, "duration", 4*time.Second, "how long to send new requests")
	flag.DurationVar(&cfg.timeout, "timeout", 15*time.Second, "extra time allowed to connect and drain")
	flag.StringVar(&pids, "pids", "", "comma-separated PIDs whose CPU is charged per frame (the proxy)")
	flag.StringVar(&expvarURL, "expvar", "", "http URL of the target's Go expvar (optional)")
	flag.StringVar(&scenario, "scenario", "", "label copied to the output")
	flag.StringVar(&target, "target", "", "label copied to the output")
	flag.IntVar(&rep, "rep", 0, "label copied to the output")
	flag.Parse()
	cfg.end = []byte(*end)
	watched, err := bench.ParsePIDs(pids)
	if err != nil {
		fatal(err)
	}
	if cfg.conns < 1 || cfg.depth < 1 || cfg.k < 0 || cfg.conns > 10000 || cfg.warmup < 0 || cfg.minSize < 0 || cfg.minSize > cfg.size {
		fatal(fmt.Errorf("bad -c/-depth/-k/-warmup/-minsize"))
	}
	if cfg.gap > 0 && cfg.depth != 1 {
		fatal(fmt.Errorf("-gap spaces turns one at a time: -depth 1"))
	}
	if cfg.mode == "openhands" && cfg.depth > 1 {
		fatal(fmt.Errorf("-mode openhands: -depth 1 only (OpenHands' events name no request)"))
	}
	switch cfg.mode {
	case "plain", "connic", "wiro", "agents", "openhands":
	default:
		fatal(fmt.Errorf("unknown -mode %q", cfg.mode))
	}
	if cfg.mode == "wiro" {
		if cfg.depth != 1 || cfg.echo || cfg.k < 1 {
			fatal(fmt.Errorf("wiro mode streams one request at a time per connection: -depth 1, no -echo, -k 1 or more"))
		}
		if cfg.api, err = wiroAPI(cfg.url); err != nil {
			fatal(err)
		}
		wiroHTTP.Transport = &http.Transport{MaxIdleConnsPerHost: cfg.conns, DisableCompression: true}
	}
	res := run(cfg, watched, expvarURL)
	res.Scenario, res.Target, res.Rep = scenario, target, rep
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "load:", err)
	os.Exit(2)
}

func run(cfg config, watched []int, expvarURL string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.duration+cfg.timeout)
	defer cancel()
	rss0, rssErr := bench.RSSKiB(watched)
	// Connect everyone first, so the measured window holds only traffic.
	conns := make([]*bench.Conn, cfg.conns)
	var wg sync.WaitGroup
	var connErrs atomic.Int64
	var firstConnErr atomic.Pointer[error] // the first of any type: an atomic.Value would panic on a second type
	sem := make(chan struct{}, 32)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := bench.Dial(ctx, bench.ConnURL(cfg.url, i), 5*time.Second)
			if err == nil && cfg.mode == "agents" {
				_ = c.NC.SetReadDeadline(time.Now().Add(5 * time.Second))
				err = bench.AgentsReady(c)
			}
			if err == nil && cfg.mode == "openhands" {
				_ = c.NC.SetReadDeadline(time.Now().Add(5 * time.Second))
				err = bench.OpenHandsReady(c)
			}
			if err == nil && cfg.mode == "connic" {
				_ = c.NC.SetReadDeadline(time.Now().Add(5 * time.Second))
				var m []byte
				if m, err = c.ReadMessage(); err == nil && !bytes.Contains(m, []byte(`"connected"`)) {
					err = fmt.Errorf("first frame is not connected: %.80s", m)
				}
			}
			if err != nil {
				connErrs.Add(1)
				firstConnErr.CompareAndSwap(nil, &err)
				if c != nil {
					c.NC.Close()
				}
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()

	// A few requests per connection before the window: a session's first
	// replies grow its buffers, which is set-up, not steady state.
	warm := cfg
	if cfg.gap > 0 {
		warm.k, warm.interval, warm.think = min(cfg.k, 20), 0, 0
	}
	forEachConn(conns, func(i int, c *bench.Conn) {
		_ = c.NC.SetDeadline(time.Now().Add(cfg.timeout))
		var w worker
		for range cfg.warmup {
			if err := w.once(c, warm, i); err != nil {
				connErrs.Add(1)
				werr := fmt.Errorf("warm-up: %w", err)
				firstConnErr.CompareAndSwap(nil, &werr)
				c.NC.Close()
				conns[i] = nil
				return
			}
		}
	})

	var mallocs *bench.MallocCounter
	var mallocsErr error
	if expvarURL != "" {
		mallocs, mallocsErr = bench.StartMallocs(expvarURL)
	}
	cpu0, cpuErr := bench.CPUMicros(watched)
	self0 := bench.SelfCPUMicros()
	t0 := time.Now()
	stop := t0.Add(cfg.duration)
	workers := make([]worker, cfg.conns)
	// The watched processes' RSS at the end of the window, while the
	// connections are open and streaming.
	rss1 := make(chan int64, 1)
	rssAt := time.AfterFunc(cfg.duration, func() {
		v, err := bench.RSSKiB(watched)
		if err != nil {
			v = -1
		}
		rss1 <- v
	})
	defer rssAt.Stop()
	forEachConn(conns, func(i int, c *bench.Conn) {
		_ = c.NC.SetDeadline(stop.Add(cfg.timeout))
		workers[i].rng = uint64(i)*0x9e3779b97f4a7c15 + uint64(t0.UnixNano())
		workers[i].run(c, cfg, i, stop)
	})
	elapsed := time.Since(t0)
	cpu1, cpuErr1 := bench.CPUMicros(watched)
	self1 := bench.SelfCPUMicros()

	r := Result{Kind: "load", Mode: cfg.mode, Conns: cfg.conns, K: cfg.k, Size: cfg.size, Depth: cfg.depth,
		IntervalUs: cfg.interval.Microseconds(), Echo: cfg.echo, Seconds: elapsed.Seconds(),
		ThinkUs: cfg.think.Microseconds(), GapUs: cfg.gap.Microseconds(), MinSize: cfg.minSize}
	connected := 0
	for _, c := range conns {
		if c != nil {
			connected++
		}
	}
	if len(watched) > 0 && rssErr == nil && connected > 0 {
		select {
		case v := <-rss1:
			if v >= 0 {
				kib := float64(v-rss0) / float64(connected)
				r.ProxyKiBPerConn = &kib
			}
		default: // the window ended early (no connections): nothing to say
		}
	}
	r.Errors = connErrs.Load()
	if e := firstConnErr.Load(); e != nil {
		r.FirstError = "connect: " + (*e).Error()
	}
	var rtt, first, jitter []time.Duration
	for i := range workers {
		w := &workers[i]
		r.Requests += w.requests
		r.Frames += w.frames
		r.FramesRecv += w.recv
		r.Errors += w.errors
		r.IDMismatches += w.mismatches
		r.WholeReplies += w.whole
		rtt = append(rtt, w.rtt...)
		first = append(first, w.first...)
		jitter = append(jitter, w.jitter...)
		if w.firstErr != nil && r.FirstError == "" {
			r.FirstError = w.firstErr.Error()
		}
	}
	r.FramesPerS = float64(r.Frames) / elapsed.Seconds()
	r.MsgsPerS = float64(r.Requests) / elapsed.Seconds()
	r.RTTP50Us, r.RTTP90Us, r.RTTP99Us, r.RTTMaxUs = pct(rtt, 0.50), pct(rtt, 0.90), pct(rtt, 0.99), pct(rtt, 1)
	r.FirstP50Us, r.FirstP99Us, r.FirstP999Us = pct(first, 0.50), pct(first, 0.99), pct(first, 0.999)
	r.JitterP50Us, r.JitterP99Us, r.JitterP999Us = pct(jitter, 0.50), pct(jitter, 0.99), pct(jitter, 0.999)
	if r.Frames > 0 {
		r.ClientCPUUsPerFrame = float64(self1-self0) / float64(r.Frames)
		if len(watched) > 0 && cpuErr == nil && cpuErr1 == nil {
			v := float64(cpu1-cpu0) / float64(r.Frames)
			r.ProxyCPUUsPerFrame = &v
		}
	}
	if expvarURL == "" {
		r.AllocsNote = "target exposes no allocation counter"
	} else if mallocsErr != nil {
		r.AllocsNote = fmt.Sprint("expvar: ", mallocsErr)
	} else if m, err := mallocs.Since(); err == nil && r.Frames > 0 {
		v := m / float64(r.Frames)
		r.AllocsPerFrame = &v
	} else {
		r.AllocsNote = fmt.Sprint("expvar: ", err)
	}
	// Closed only now: tearing sessions down is not steady state either.
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	return r
}

// pct returns the q-quantile of d in µs (sorting d).
func pct(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := min(int(q*float64(len(d))), len(d)-1)
	return float64(d[i].Nanoseconds()) / 1e3
}

// pending is one request in flight.
type pending struct {
	id   []byte
	sent time.Time
}

func (w *worker) fail(err error) {
	w.errors++
	if w.firstErr == nil {
		w.firstErr = err
	}
}

// run sends requests until stop, keeping cfg.depth in flight, and reads
// every reply in order.
func (w *worker) run(c *bench.Conn, cfg config, idx int, stop time.Time) {
	w.rtt = make([]time.Duration, 0, 4096)
	w.first = make([]time.Duration, 0, 4096)
	queue := make([]pending, cfg.depth)
	for i := range queue {
		queue[i].id = make([]byte, 0, 32)
	}
	if cfg.mode == "wiro" {
		for n := 0; time.Now().Before(stop); n++ {
			if cfg.gap > 0 && !w.pause(cfg, stop) {
				return
			}
			p := &queue[0]
			p.id = strconv.AppendInt(append(append(p.id[:0], 'c'), strconv.Itoa(idx)...), int64(n), 10)
			if err := w.wiroOnce(c, cfg, idx, p); err != nil {
				w.fail(err)
				return
			}
		}
		return
	}
	var req []byte
	head, inFlight, n := 0, 0, 0
	for {
		for inFlight < cfg.depth && time.Now().Before(stop) {
			if cfg.gap > 0 && !w.pause(cfg, stop) {
				break
			}
			p := &queue[(head+inFlight)%cfg.depth]
			p.id = strconv.AppendInt(append(append(p.id[:0], 'c'), strconv.Itoa(idx)...), int64(n), 10)
			n++
			req = w.request(req[:0], cfg, p.id)
			p.sent = time.Now()
			if err := c.WriteText(req); err != nil {
				w.fail(err)
				return
			}
			inFlight++
		}
		if inFlight == 0 {
			return
		}
		p := &queue[head]
		if err := w.readReply(c, cfg, p, queue, head, inFlight); err != nil {
			w.fail(err)
			return
		}
		head = (head + 1) % cfg.depth
		inFlight--
	}
}

// pause sleeps before a turn, uniform in [0, 2×gap); false (without
// sleeping) when the turn would start after stop.
func (w *worker) pause(cfg config, stop time.Time) bool {
	w.rng ^= w.rng << 13
	w.rng ^= w.rng >> 7
	w.rng ^= w.rng << 17
	d := time.Duration(w.rng % uint64(2*cfg.gap))
	if !time.Now().Add(d).Before(stop) {
		return false
	}
	time.Sleep(d)
	return true
}

// chunk records the arrival of a reply's chunk, n chunks having come before
// it: the first frame's latency, then (paced) the jitter of each gap.
func (w *worker) chunk(cfg config, p *pending, n int) {
	t := time.Now()
	if n == 0 {
		w.first = append(w.first, t.Sub(p.sent))
	} else if cfg.interval > 0 {
		w.jitter = append(w.jitter, (t.Sub(w.last) - cfg.interval).Abs())
	}
	w.last = t
}

// chunkOK reports whether a chunk's text (rest: it and whatever follows it in
// the frame) is chunk seq of the reply to id: with -minsize exactly, else
// starting with "<id>:".
func (w *worker) chunkOK(cfg config, rest, id []byte, seq int) bool {
	if cfg.minSize == 0 {
		return chunkOf(rest, id)
	}
	w.want = bench.AppendChunk(w.want[:0], id, seq, bench.ChunkSize(seq, cfg.minSize, cfg.size))
	if !bytes.HasPrefix(rest, w.want) {
		return false
	}
	return len(rest) == len(w.want) || rest[len(w.want)] == '"' || rest[len(w.want)] == '\\'
}

// forEachConn runs fn for every connection that is not nil, each on its
// own goroutine, and waits for all of them.
func forEachConn(conns []*bench.Conn, fn func(i int, c *bench.Conn)) {
	var wg sync.WaitGroup
	for i, c := range conns {
		if c != nil {
			wg.Go(func() { fn(i, c) })
		}
	}
	wg.Wait()
}

// once sends one request and reads its reply (the warm-up).
func (w *worker) once(c *bench.Conn, cfg config, idx int) error {
	queue := []pending{{id: fmt.Appendf(nil, "w%d", idx), sent: time.Now()}}
	if cfg.mode == "wiro" {
		return w.wiroOnce(c, cfg, idx, &queue[0])
	}
	if err := c.WriteText(w.request(nil, cfg, queue[0].id)); err != nil {
		return err
	}
	return w.readReply(c, cfg, &queue[0], queue, 0, 1)
}

func (w *worker) request(b []byte, cfg config, id []byte) []byte {
	if cfg.mode == "agents" {
		w.line = appendLine(w.line[:0], cfg, id)
		return bench.AgentsChatRequest(b, id, w.line)
	}
	if cfg.mode == "openhands" {
		w.line = appendLine(w.line[:0], cfg, id)
		return bench.OpenHandsMessage(b, w.line)
	}
	if cfg.mode == "connic" {
		b = append(b, `{"type":"message","id":"`...)
		b = append(b, id...)
		b = append(b, `","payload":{"message":"`...)
	}
	b = appendLine(b, cfg, id)
	if cfg.mode == "connic" {
		b = append(b, `"}}`...)
	}
	return b
}

// appendLine appends the request line the backend reads: "e <id> x…" of
// -size bytes with -echo, else "r <id> <k> <size> <interval_us>".
func appendLine(b []byte, cfg config, id []byte) []byte {
	start := len(b)
	if cfg.echo {
		b = append(append(append(b, "e "...), id...), ' ')
		for len(b)-start < cfg.size {
			b = append(b, 'x')
		}
		return b
	}
	b = append(append(append(b, "r "...), id...), ' ')
	b = strconv.AppendInt(b, int64(cfg.k), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(cfg.size), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, cfg.interval.Microseconds(), 10)
	if cfg.think > 0 || cfg.minSize > 0 {
		b = append(b, ' ')
		b = strconv.AppendInt(b, cfg.think.Microseconds(), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(cfg.minSize), 10)
	}
	return b
}

var (
	typeChunk      = []byte(`"type":"stream_chunk"`)
	typeEnd        = []byte(`"type":"stream_end"`)
	typeAck        = []byte(`"type":"ack"`)
	typeStart      = []byte(`"type":"stream_start"`)
	typeErr        = []byte(`"type":"error"`)
	quotedChunk    = []byte(`"chunk":"`)
	typeResponse   = []byte(`"type":"response"`)
	quotedResponse = []byte(`"response":"`)
)

// readReply reads the reply to p. In Connic mode with pipelining, acks of
// later requests may arrive in between; they must name a request in flight.
func (w *worker) readReply(c *bench.Conn, cfg config, p *pending, queue []pending, head, inFlight int) error {
	chunks, mismatch := 0, false
	var idKey [64]byte
	key := append(append(append(idKey[:0], `"id":"`...), p.id...), '"')
	if cfg.mode == "agents" {
		return w.agentsReply(c, cfg, p)
	}
	if cfg.mode == "openhands" {
		return w.openHandsReply(c, cfg, p)
	}
	for {
		m, err := c.ReadMessage()
		if err != nil {
			return err
		}
		w.recv++
		if cfg.mode == "plain" {
			if cfg.echo {
				if !echoOf(m, p.id) {
					mismatch = true
				}
				w.first = append(w.first, time.Since(p.sent))
				return w.finish(p, 1, mismatch)
			}
			if bytes.Equal(m, cfg.end) {
				if chunks != cfg.k {
					return fmt.Errorf("reply %s: %d chunks, want %d", p.id, chunks, cfg.k)
				}
				return w.finish(p, int64(cfg.k)+1, mismatch)
			}
			if !w.chunkOK(cfg, m, p.id, chunks) {
				mismatch = true
			}
			w.chunk(cfg, p, chunks)
			chunks++
			continue
		}
		// Connic.
		switch {
		case bytes.Contains(m, typeChunk):
			i := bytes.Index(m, quotedChunk)
			if !bytes.Contains(m, key) || i < 0 || !(cfg.echo || w.chunkOK(cfg, m[i+len(quotedChunk):], p.id, chunks)) {
				mismatch = true
			}
			w.chunk(cfg, p, chunks)
			chunks++
		case bytes.Contains(m, typeEnd):
			if !bytes.Contains(m, key) {
				mismatch = true
			}
			want := cfg.k
			if cfg.echo {
				want = 1
			}
			if chunks != want {
				return fmt.Errorf("reply %s: %d chunks, want %d", p.id, chunks, want)
			}
			return w.finish(p, int64(want)+1, mismatch)
		case bytes.Contains(m, typeResponse):
			// A whole reply (Connic session.streaming: false): one frame.
			i := bytes.Index(m, quotedResponse)
			if !bytes.Contains(m, key) || i < 0 || !(cfg.echo || chunkOf(m[i+len(quotedResponse):], p.id)) {
				mismatch = true
			}
			w.first = append(w.first, time.Since(p.sent))
			w.whole++
			want := cfg.k
			if cfg.echo {
				want = 1
			}
			return w.finish(p, int64(want)+1, mismatch)
		case bytes.Contains(m, typeAck):
			if !ackOfInFlight(m, queue, head, inFlight) {
				mismatch = true
			}
		case bytes.Contains(m, typeStart):
			if !bytes.Contains(m, key) {
				mismatch = true
			}
		case bytes.Contains(m, typeErr):
			return fmt.Errorf("error frame: %.200s", m)
		}
	}
}

// echoOf reports whether m is the echo of request id: "e <id> ...".
func echoOf(m, id []byte) bool {
	return len(m) > len(id)+2 && bytes.HasPrefix(m, []byte("e ")) && bytes.HasPrefix(m[2:], id) && m[2+len(id)] == ' '
}

// chunkOf reports whether chunk text starts with "<id>:".
func chunkOf(m, id []byte) bool {
	return len(m) > len(id) && bytes.HasPrefix(m, id) && m[len(id)] == ':'
}

func ackOfInFlight(m []byte, queue []pending, head, inFlight int) bool {
	var buf [64]byte
	for i := 0; i < inFlight; i++ {
		id := queue[(head+i)%len(queue)].id
		if bytes.Contains(m, append(append(append(buf[:0], `"id":"`...), id...), '"')) {
			return true
		}
	}
	return false
}

func (w *worker) finish(p *pending, frames int64, mismatch bool) error {
	w.rtt = append(w.rtt, time.Since(p.sent))
	w.requests++
	w.frames += frames
	if mismatch {
		w.mismatches++
	}
	return nil
}
