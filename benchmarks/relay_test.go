package benchmarks

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/agentbridge/agentbridge/demo"
	"github.com/agentbridge/agentbridge/proxy"
	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/plain"
)

// routes returns the proxy routes the benchmarks use, against backend url:
// a passthrough (plain to plain, same shape), a translating one (plain
// client in stream mode to a chunked plain backend) and one to the demo
// agent.
func routes(url, chunkedURL string) []*proxy.Route {
	chunked := &proxy.Backend{Name: "chunked", Dialect: plain.Dialect, URL: chunkedURL,
		Options: translators.Options{Chunked: true, EndMarker: "[DONE]"}}
	// Benchmarks send as fast as they can: no message rate limit.
	unlimited := proxy.Limits{MessageRate: -1}
	return []*proxy.Route{
		{Name: "pass", Path: "/pass", Client: plain.Dialect, Limits: unlimited,
			Backend: &proxy.Backend{Name: "echo", Dialect: plain.Dialect, URL: url}},
		{Name: "translate", Path: "/translate", Client: plain.Dialect, Backend: chunked, Limits: unlimited,
			ClientOptions: translators.Options{Reply: translators.ReplyStream},
			Session:       proxy.Session{MaxMessages: -1}},
		{Name: "demo", Path: "/demo", Client: plain.Dialect, Backend: &proxy.Backend{
			Name: "demo", Dialect: translators.Dialect{Name: "demo"},
			Open: func(ctx contextT, _ []proxy.Param) (proxy.Upstream, error) {
				return (&demo.Agent{}).NewSession(), nil
			}}},
	}
}

var payload64 = bytes.Repeat([]byte("x"), 64)

// roundTrip sends msg through the proxy to the echo backend and reads the
// answer: two relayed frames.
func roundTrip(tb testing.TB, c *rawPeer, msg []byte) {
	if err := c.writeText(msg); err != nil {
		tb.Fatal(err)
	}
	got, err := c.readMessage()
	if err != nil {
		tb.Fatal(err)
	}
	if len(got) != len(msg) {
		tb.Fatalf("echo of %d bytes came back with %d: %q", len(msg), len(got), got)
	}
}

func benchRoundTrip(b *testing.B, path string, msg []byte) {
	addr := startProxy(b, routes(startEchoBackend(b, ""), startEchoBackend(b, "[DONE]"))...)
	c := dialRaw(b, "ws://"+addr+path)
	for range 100 { // warm up pools and buffers
		roundTrip(b, c, msg)
	}
	b.ReportAllocs()
	b.SetBytes(int64(2 * len(msg)))
	for b.Loop() {
		roundTrip(b, c, msg)
	}
	// Two frames cross the proxy per round trip.
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/frame")
}

// BenchmarkPassthrough64 is one 64-byte message to a plain backend and its
// echo back, relayed frame by frame.
func BenchmarkPassthrough64(b *testing.B) { benchRoundTrip(b, "/pass", payload64) }

// BenchmarkPassthrough1K is the same with 1 KiB messages.
func BenchmarkPassthrough1K(b *testing.B) {
	benchRoundTrip(b, "/pass", bytes.Repeat([]byte("y"), 1024))
}

// BenchmarkTranslatePlain is a round trip through the translating path:
// decoded, normalized by the Turn and encoded again on both legs.
func BenchmarkTranslatePlain(b *testing.B) { benchRoundTrip(b, "/translate", payload64) }

// TestSteadyStateAllocs asserts the hot paths allocate nothing per relayed
// frame once warm: passthrough and plain translation, over real sockets.
func TestSteadyStateAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts need a full, race-free run")
	}
	addr := startProxy(t, routes(startEchoBackend(t, ""), startEchoBackend(t, "[DONE]"))...)
	for _, path := range []string{"/pass", "/translate"} {
		c := dialRaw(t, "ws://"+addr+path)
		// Warm up after a collection, which empties the pools (the
		// sessions' idle scratch, the read buffers) into their victim
		// caches: refilling them is a cost per collection, not per frame.
		runtime.GC()
		for range 200 {
			roundTrip(t, c, payload64)
		}
		const frames = 2 * 2000
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range frames / 2 {
			roundTrip(t, c, payload64)
		}
		runtime.ReadMemStats(&after)
		perFrame := float64(after.Mallocs-before.Mallocs) / frames
		t.Logf("%s: %.4f allocations per relayed frame", path, perFrame)
		if perFrame > 0.01 {
			t.Errorf("%s: %.4f allocations per relayed frame, want at most 0.01", path, perFrame)
		}
	}
}
