// Command agent is the benchmark backend: a streaming WebSocket agent on
// loopback, built on gobwas/ws's zero-copy Upgrader with one goroutine per
// connection and reused buffers (no allocation per frame).
//
// Requests are text messages (the load tool sends them):
//
//	r <id> <k> <size> <interval_us>   stream k chunks of size bytes, then the end
//	r <id> <k> <size> <interval_us> <think_us> <minsize>
//	                                  the same after a pause of think_us ("thinking")
//	                                  before the first chunk; with minsize > 0, chunk
//	                                  seq is bench.ChunkSize(seq, minsize, size) bytes
//	                                  (bench.AppendChunk: cut when the prefix is longer)
//	e <id> <anything>                 echo the message back as is
//
// A chunk's text is "<id>:<seq>:" padded with 'x' to size bytes, so a client
// can check that every chunk belongs to its request.
//
// Plain mode (-plain): chunks are bare text frames, then "[DONE]"; one
// write(2) per frame, like token streaming.
//
// Connic mode (-connic): "connected" on open; a message
// {"type":"message","id":ID,"payload":{"message":TEXT}} gets ack,
// stream_start, k stream_chunk and stream_end with full_response and
// token_usage, all carrying ID. {"type":"ping"} gets {"type":"pong"};
// {"secret":...} frames are ignored.
//
// Wiro mode (-wiro-api, -wiro-socket): a REST send and a subscription
// socket, with accumulated text (wiro.go).
//
// The process exits after -lifetime.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/benchmarks/harness/internal/bench"
)

func main() {
	plain := flag.String("plain", "127.0.0.1:19000", "plain-mode listen address (empty: off)")
	connic := flag.String("connic", "127.0.0.1:19001", "Connic-mode listen address (empty: off)")
	wiroAPI := flag.String("wiro-api", "127.0.0.1:19002", "Wiro-mode REST listen address (empty: off)")
	wiroSocket := flag.String("wiro-socket", "127.0.0.1:19003", "Wiro-mode socket listen address (empty: off)")
	lifetime := flag.Duration("lifetime", 30*time.Minute, "exit after this long")
	flag.Parse()
	if *wiroAPI != "" && *wiroSocket != "" {
		wa := newWiroAgent()
		go wa.serveAPI(bench.Listen(*wiroAPI))
		go bench.Serve(bench.Listen(*wiroSocket), wa.handle)
	}
	for addr, isConnic := range map[string]bool{*plain: false, *connic: true} {
		if addr == "" {
			continue
		}
		go bench.Serve(bench.Listen(addr), func(nc net.Conn) { handle(nc, isConnic) })
	}
	time.Sleep(*lifetime)
	fmt.Fprintln(os.Stderr, "agent: lifetime over")
}

func handle(nc net.Conn, connic bool) {
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := (ws.Upgrader{}).Upgrade(nc); err != nil {
		return
	}
	_ = nc.SetDeadline(time.Time{})
	a := &agent{c: bench.NewConn(nc, nil, false, 4096), connic: connic}
	if connic && a.c.WriteText([]byte(`{"type":"connected","connector_run_id":"bench","session_id":"bench","agents":["bench"]}`)) != nil {
		return
	}
	for {
		msg, err := a.c.ReadMessage()
		if err != nil {
			return
		}
		if err := a.serveMessage(msg); err != nil {
			return
		}
	}
}

type agent struct {
	c      *bench.Conn
	connic bool
	n      int    // messages seen
	req    []byte // copy of the request text
	id     []byte // copy of the Connic id
	frame  []byte // frame being built
	full   []byte // Connic full_response
}

var (
	doneMarker = []byte("[DONE]")
	pong       = []byte(`{"type":"pong"}`)
)

func (a *agent) serveMessage(msg []byte) error {
	if !a.connic {
		a.req = append(a.req[:0], msg...)
		return a.reply(nil)
	}
	if bytes.Contains(msg, []byte(`"type":"ping"`)) {
		return a.c.WriteText(pong)
	}
	text := bench.JSONString(msg, `"message":"`)
	if text == nil {
		return nil // {"secret":...} or anything else carrying no message
	}
	a.req = append(a.req[:0], text...)
	a.id = append(a.id[:0], bench.JSONString(msg, `"id":"`)...)
	a.n++
	a.frame = append(a.head(a.frame[:0], "ack"), `,"message_number":`...)
	a.frame = append(strconv.AppendInt(a.frame, int64(a.n), 10), '}')
	if err := a.c.WriteText(a.frame); err != nil {
		return err
	}
	if err := a.c.WriteText(append(a.head(a.frame[:0], "stream_start"), `,"agent":"bench"}`...)); err != nil {
		return err
	}
	a.full = a.full[:0]
	return a.reply(a.id)
}

// reply answers a.req; connicID is nil in plain mode.
func (a *agent) reply(connicID []byte) error {
	f := bytes.Fields(a.req)
	if len(f) < 2 || (f[0][0] != 'r' && f[0][0] != 'e') {
		f = [][]byte{[]byte("e"), []byte("?")}
	}
	k, size, interval, think, minSize := 1, len(a.req), 0, 0, 0
	if f[0][0] == 'r' && len(f) >= 5 {
		k, _ = strconv.Atoi(string(f[2]))
		size, _ = strconv.Atoi(string(f[3]))
		interval, _ = strconv.Atoi(string(f[4]))
		k = min(max(k, 0), 100000)
		size = min(max(size, 0), bench.MaxMessage/2)
		if len(f) >= 7 {
			think, _ = strconv.Atoi(string(f[5]))
			minSize, _ = strconv.Atoi(string(f[6]))
			minSize = min(max(minSize, 0), size)
		}
	}
	echo := f[0][0] == 'e'
	if think > 0 {
		time.Sleep(time.Duration(think) * time.Microsecond)
	}
	for seq := 0; seq < k; seq++ {
		if seq > 0 && interval > 0 {
			time.Sleep(time.Duration(interval) * time.Microsecond)
		}
		if connicID != nil {
			a.frame = append(a.head(a.frame[:0], "stream_chunk"), `,"agent":"bench","chunk":"`...)
		} else {
			a.frame = a.frame[:0]
		}
		start := len(a.frame)
		if echo {
			a.frame = append(a.frame, a.req...)
		} else if minSize > 0 {
			a.frame = bench.AppendChunk(a.frame, f[1], seq, bench.ChunkSize(seq, minSize, size))
		} else {
			a.frame = append(a.frame, f[1]...)
			a.frame = append(a.frame, ':')
			a.frame = strconv.AppendInt(a.frame, int64(seq), 10)
			a.frame = append(a.frame, ':')
			for len(a.frame)-start < size {
				a.frame = append(a.frame, 'x')
			}
		}
		if connicID != nil {
			a.full = append(a.full, a.frame[start:]...)
			a.frame = append(a.frame, `"}`...)
		}
		if err := a.c.WriteText(a.frame); err != nil {
			return err
		}
		if echo && connicID == nil {
			return nil // plain echo: the reply is the message itself, no end marker
		}
	}
	if connicID == nil {
		return a.c.WriteText(doneMarker)
	}
	a.frame = append(a.head(a.frame[:0], "stream_end"), `,"agent":"bench","full_response":"`...)
	a.frame = append(a.frame, a.full...)
	a.frame = append(a.frame, `","token_usage":{"prompt_tokens":1,"candidates_tokens":`...)
	a.frame = append(strconv.AppendInt(a.frame, int64(k), 10), "}}"...)
	return a.c.WriteText(a.frame)
}

// head appends {"type":"typ","id":"<id>" (without the closing brace).
func (a *agent) head(b []byte, typ string) []byte {
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","id":"`...)
	b = append(b, a.id...)
	return append(b, '"')
}
