package benchmarks

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"strconv"
	"testing"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/proxy"
	"github.com/agentbridge/agentbridge/translators/connic"
	"github.com/agentbridge/agentbridge/translators/wiro"
)

// The two Wiro routes, driven a whole message at a time over loopback
// sockets by peers that allocate nothing per message, so that the
// allocations counted are the proxy's:
//
//   - /connic-wiro: a Connic client, a Wiro backend (the proxy POSTs each
//     message to the backend's REST API and reads the reply on the socket
//     its sessions share).
//   - /wiro: a Wiro client (it POSTs each message to the proxy and
//     subscribes to the reply on a socket), a Connic backend.
//
// Each reply is wiroChunks chunks of 64 bytes.

const wiroChunks = 20

// wiroRoutes returns the two routes, against a fake Wiro backend (apiURL,
// socketURL) and a fake Connic backend (connicURL).
func wiroRoutes(apiURL, socketURL, connicURL string) []*proxy.Route {
	unlimited := proxy.Limits{MessageRate: -1}
	wiroBackend := &proxy.Backend{Name: "wiro", Dialect: wiro.Dialect, URL: socketURL,
		APIURL: apiURL, APIKey: "bench-key", AgentID: "bench-agent"}
	connicBackend := &proxy.Backend{Name: "connic", Dialect: connic.Dialect, URL: connicURL}
	return []*proxy.Route{
		{Name: "connic-wiro", Path: "/connic-wiro", Client: connic.Dialect, Backend: wiroBackend,
			Limits: unlimited, Session: proxy.Session{MaxMessages: -1}},
		{Name: "wiro", Path: "/wiro", Client: wiro.Dialect, Backend: connicBackend,
			Limits: unlimited, Session: proxy.Session{MaxMessages: -1}},
	}
}

// startWiroProxy starts both fake backends and a proxy serving wiroRoutes.
// The Connic backend starts each reply when subscribed receives: the Wiro
// client signals it once the proxy answered its subscription, as a real
// agent's first words come after a client subscribed, so that the client
// gets every frame of the reply.
func startWiroProxy(tb testing.TB, subscribed <-chan struct{}) string {
	apiURL, socketURL := startWiroBackend(tb)
	return startProxy(tb, wiroRoutes(apiURL, socketURL, startConnicBackend(tb, subscribed))...)
}

// chunk64 is one chunk of a reply.
var chunk64 = bytes.Repeat([]byte("x"), 64)

// startWiroBackend runs a Wiro backend: its REST send answers with a fresh
// agenttoken, and a subscription to a token on its socket gets
// agent_subscribed, agent_start, wiroChunks agent_output frames holding the
// whole text so far, and agent_end. It returns the API's base URL and the
// socket's URL (one port serves both).
func startWiroBackend(tb testing.TB) (apiURL, socketURL string) {
	addr := listenLoopback(tb, func(c net.Conn) {
		br := bufio.NewReaderSize(c, 16<<10)
		// An HTTP request or a WebSocket upgrade: the upgrade is a GET.
		first, err := br.Peek(4)
		if err != nil {
			return
		}
		if string(first) == "GET " {
			if _, err := ws.Upgrade(&peekedConn{Conn: c, r: br}); err != nil {
				return
			}
			serveWiroSocket(newRawPeer(c, br, false))
			return
		}
		serveWiroAPI(c, br)
	})
	return "http://" + addr + "/v1", "ws://" + addr + "/v1"
}

// peekedConn reads through the buffered reader that peeked at the request.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// serveWiroAPI answers REST sends on one keep-alive connection: every
// request gets a send result naming the next token.
func serveWiroAPI(c net.Conn, br *bufio.Reader) {
	var (
		body   = make([]byte, 0, 4096)
		out    = make([]byte, 0, 512)
		answer = make([]byte, 0, 256)
		token  = []byte("tok000000000000000000000000000")
		n      int64
	)
	for {
		size, err := readHTTPHead(br)
		if err != nil {
			return
		}
		body = body[:size]
		if _, err := io.ReadFull(br, body); err != nil {
			return
		}
		n++
		appendPadded(token[3:], n)
		answer = append(answer[:0], `{"result":true,"errors":[],"messageguid":"c3d4e5f6-a7b8-9012-cdef-345678901234","agenttoken":"`...)
		answer = append(append(answer, token...), `","status":"agent_queue"}`...)
		out = append(out[:0], "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "...)
		out = strconv.AppendInt(out, int64(len(answer)), 10)
		out = append(append(out, "\r\n\r\n"...), answer...)
		if _, err := c.Write(out); err != nil {
			return
		}
	}
}

// appendPadded writes n in decimal into the whole of dst, zero-padded.
func appendPadded(dst []byte, n int64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + n%10)
		n /= 10
	}
}

// serveWiroSocket streams a reply to each subscription on p.
func serveWiroSocket(p *rawPeer) {
	var (
		token []byte
		text  []byte
		frame = make([]byte, 0, 4096)
	)
	head := func(typ string) []byte {
		frame = append(frame[:0], `{"type":"`...)
		frame = append(frame, typ...)
		frame = append(frame, `","agenttoken":"`...)
		frame = append(frame, token...)
		return append(frame, '"')
	}
	progress := func(typ string, n int) []byte {
		frame = append(head(typ), `,"message":{"type":"progressGenerate","task":"Generate","speed":"1","speedType":"words/s","elapsedTime":"0s","tokenCount":`...)
		frame = strconv.AppendInt(frame, int64(n), 10)
		frame = append(frame, `,"wordCount":1,"raw":"`...)
		frame = append(frame, text...)
		frame = append(frame, `","thinking":[],"answer":["`...)
		frame = append(frame, text...)
		return append(frame, `"],"isThinking":false},"result":true}`...)
	}
	for {
		msg, err := p.readMessage()
		if err != nil {
			return
		}
		token = append(token[:0], jsonString(msg, `"agenttoken":"`)...)
		if p.writeText(append(head("agent_subscribed"), `,"status":"agent_queue","debugoutput":"","result":true}`...)) != nil ||
			p.writeText(append(head("agent_start"), `,"message":"","result":true}`...)) != nil {
			return
		}
		text = text[:0]
		for i := range wiroChunks {
			text = append(text, chunk64...)
			if p.writeText(progress("agent_output", i+1)) != nil {
				return
			}
		}
		if p.writeText(progress("agent_end", wiroChunks)) != nil {
			return
		}
	}
}

// startConnicBackend runs a Connic backend: "connected" on open, then for
// each message an ack, stream_start, wiroChunks stream_chunk frames and
// stream_end with the whole text. With start not nil, it waits for a value
// from start before each reply.
func startConnicBackend(tb testing.TB, start <-chan struct{}) string {
	addr := listenLoopback(tb, func(c net.Conn) {
		if _, err := ws.Upgrade(c); err != nil {
			return
		}
		p := newRawPeer(c, nil, false)
		if p.writeText([]byte(`{"type":"connected","connector_run_id":"bench","session_id":"bench","agents":["bench"]}`)) != nil {
			return
		}
		var id, frame, full []byte
		head := func(typ string) []byte {
			frame = append(frame[:0], `{"type":"`...)
			frame = append(frame, typ...)
			frame = append(frame, `","id":"`...)
			frame = append(frame, id...)
			return append(frame, '"')
		}
		for {
			msg, err := p.readMessage()
			if err != nil {
				return
			}
			id = append(id[:0], jsonString(msg, `"id":"`)...)
			if start != nil {
				<-start
			}
			if p.writeText(append(head("ack"), `,"message_number":1}`...)) != nil ||
				p.writeText(append(head("stream_start"), `,"agent":"bench"}`...)) != nil {
				return
			}
			full = full[:0]
			for range wiroChunks {
				full = append(full, chunk64...)
				frame = append(head("stream_chunk"), `,"agent":"bench","chunk":"`...)
				frame = append(append(frame, chunk64...), `"}`...)
				if p.writeText(frame) != nil {
					return
				}
			}
			frame = append(head("stream_end"), `,"agent":"bench","full_response":"`...)
			frame = append(append(frame, full...), `","token_usage":{"prompt_tokens":1,"candidates_tokens":20}}`...)
			if p.writeText(frame) != nil {
				return
			}
		}
	})
	return "ws://" + addr + "/"
}

// jsonString returns the string value after key (`"name":"`) in msg, up to
// the next quote: enough for the ids and tokens the peers read, which hold
// no escapes.
func jsonString(msg []byte, key string) []byte {
	i := bytes.Index(msg, []byte(key))
	if i < 0 {
		return nil
	}
	v := msg[i+len(key):]
	if j := bytes.IndexByte(v, '"'); j >= 0 {
		return v[:j]
	}
	return nil
}

var errBadHTTP = errors.New("malformed HTTP message")

// readHTTPHead reads an HTTP message's first line and headers and returns
// its Content-Length (0 when absent).
func readHTTPHead(br *bufio.Reader) (int, error) {
	size := 0
	for first := true; ; first = false {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if first {
				return 0, errBadHTTP
			}
			return size, nil
		}
		const cl = "content-length:"
		if len(line) > len(cl) && bytes.EqualFold(line[:len(cl)], []byte(cl)) {
			v := bytes.TrimSpace(line[len(cl):])
			size = 0
			for _, d := range v {
				if d < '0' || d > '9' {
					return 0, errBadHTTP
				}
				size = size*10 + int(d-'0')
			}
		}
	}
}

// connicWiroClient is a Connic client of /connic-wiro.
type connicWiroClient struct {
	p   *rawPeer
	msg []byte
	n   int64
}

func dialConnicClient(tb testing.TB, addr string) *connicWiroClient {
	c := &connicWiroClient{p: dialRaw(tb, "ws://"+addr+"/connic-wiro"), msg: make([]byte, 0, 256)}
	m, err := c.p.readMessage()
	if err != nil || !bytes.Contains(m, []byte(`"connected"`)) {
		tb.Fatalf("first frame %q, %v: want connected", m, err)
	}
	return c
}

var (
	typeStreamEnd = []byte(`"type":"stream_end"`)
	typeAgentEnd  = []byte(`"type":"agent_end"`)
	statusEnd     = []byte(`"status":"agent_end"`)
)

// message sends one message and reads its whole reply; it returns the
// frames the proxy sent for it.
func (c *connicWiroClient) message(tb testing.TB) int {
	c.n++
	c.msg = append(c.msg[:0], `{"type":"message","id":"m`...)
	c.msg = strconv.AppendInt(c.msg, c.n, 10)
	c.msg = append(c.msg, `","payload":{"message":"hello"}}`...)
	if err := c.p.writeText(c.msg); err != nil {
		tb.Fatal(err)
	}
	for frames := 1; ; frames++ {
		m, err := c.p.readMessage()
		if err != nil {
			tb.Fatal(err)
		}
		if bytes.Contains(m, []byte(`"type":"error"`)) {
			tb.Fatalf("error from the proxy: %s", m)
		}
		if bytes.Contains(m, typeStreamEnd) {
			return frames
		}
	}
}

// wiroClient is a Wiro client of /wiro: REST sends on one keep-alive HTTP
// connection, subscriptions on one socket.
type wiroClient struct {
	subscribed chan<- struct{} // told when the proxy answered a subscription (startWiroProxy)
	hc         net.Conn
	hr         *bufio.Reader
	p          *rawPeer
	req        []byte
	body       []byte
	sub        []byte
	token      []byte
}

func dialWiroClient(tb testing.TB, addr string, subscribed chan<- struct{}) *wiroClient {
	hc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { hc.Close() })
	c := &wiroClient{subscribed: subscribed, hc: hc, hr: bufio.NewReaderSize(hc, 16<<10), p: dialRaw(tb, "ws://"+addr+"/wiro"),
		req: make([]byte, 0, 512), body: make([]byte, 0, 4096), sub: make([]byte, 0, 128), token: make([]byte, 0, 64)}
	const body = `{"useragentguid":"bench","message":"hello","sessionkey":"c0"}`
	c.req = append(c.req, "POST /wiro/UserAgent/Message/Send HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "...)
	c.req = strconv.AppendInt(c.req, int64(len(body)), 10)
	c.req = append(c.req, "\r\n\r\n"+body...)
	return c
}

// message sends one message, subscribes to its reply and reads it to the
// end; it returns the frames the proxy sent for it.
func (c *wiroClient) message(tb testing.TB) int {
	if _, err := c.hc.Write(c.req); err != nil {
		tb.Fatal(err)
	}
	size, err := readHTTPHead(c.hr)
	if err != nil {
		tb.Fatal(err)
	}
	if cap(c.body) < size {
		tb.Fatalf("send answer of %d bytes", size)
	}
	c.body = c.body[:size]
	if _, err := io.ReadFull(c.hr, c.body); err != nil {
		tb.Fatal(err)
	}
	c.token = append(c.token[:0], jsonString(c.body, `"agenttoken":"`)...)
	if len(c.token) == 0 {
		tb.Fatalf("send answer without a token: %s", c.body)
	}
	c.sub = append(c.sub[:0], `{"type":"agent_info","agenttoken":"`...)
	c.sub = append(append(c.sub, c.token...), `"}`...)
	if err := c.p.writeText(c.sub); err != nil {
		tb.Fatal(err)
	}
	for frames := 1; ; frames++ {
		m, err := c.p.readMessage()
		if err != nil {
			tb.Fatal(err)
		}
		if bytes.Contains(m, []byte(`"type":"agent_error"`)) {
			tb.Fatalf("error from the proxy: %s", m)
		}
		if frames == 1 {
			// agent_subscribed: the proxy took the subscription, the
			// backend may start.
			c.subscribed <- struct{}{}
		}
		if bytes.Contains(m, typeAgentEnd) || bytes.Contains(m, statusEnd) {
			return frames
		}
	}
}

// benchWiro measures whole messages through one of the routes: allocs/op
// is allocations per message.
func benchWiro(b *testing.B, message func(testing.TB) int) {
	for range 200 { // warm up pools, buffers and the backend's connections
		message(b)
	}
	frames := 0
	b.ReportAllocs()
	for b.Loop() {
		frames += message(b)
	}
	b.ReportMetric(float64(frames)/float64(b.N), "frames/op")
}

// BenchmarkConnicToWiro is one message from a Connic client to a Wiro
// backend and its reply of wiroChunks chunks.
func BenchmarkConnicToWiro(b *testing.B) {
	c := dialConnicClient(b, startWiroProxy(b, nil))
	benchWiro(b, c.message)
}

// BenchmarkWiroToConnic is one message from a Wiro client to a Connic
// backend and its reply of wiroChunks chunks.
func BenchmarkWiroToConnic(b *testing.B) {
	subscribed := make(chan struct{})
	c := dialWiroClient(b, startWiroProxy(b, subscribed), subscribed)
	benchWiro(b, c.message)
}

// allocsPerMessage returns the process's allocations per message over n
// messages, after a warm-up.
func allocsPerMessage(message func(testing.TB) int, tb testing.TB, n int) float64 {
	for range 200 {
		message(tb)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		message(tb)
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(n)
}

// TestWiroAllocs bounds the allocations per message on both Wiro routes,
// over real sockets: what is left is per reply, not per frame (the backend's
// token as a string on Connic -> Wiro; the reply and the copy of its text
// kept for late subscribers on Wiro -> Connic).
func TestWiroAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts need a full, race-free run")
	}
	subscribed := make(chan struct{})
	addr := startWiroProxy(t, subscribed)
	for _, tc := range []struct {
		name    string
		message func(testing.TB) int
		max     float64
	}{
		{"connic-wiro", dialConnicClient(t, addr).message, 1.5},
		{"wiro", dialWiroClient(t, addr, subscribed).message, 2.5},
	} {
		n := allocsPerMessage(tc.message, t, 1000)
		t.Logf("%s: %.2f allocations per message (%d frames)", tc.name, n, wiroChunks+3)
		if n > tc.max {
			t.Errorf("%s: %.2f allocations per message, want at most %.1f", tc.name, n, tc.max)
		}
	}
}
