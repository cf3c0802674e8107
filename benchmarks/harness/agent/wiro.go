package main

// Wiro mode (-wiro-api, -wiro-socket), as Wiro's Agent WebSocket document
// describes it: a REST send, POST /v1/UserAgent/Message/Send with
// {"useragentguid","message","sessionkey"} and an x-api-key header,
// answered {"result":true,"errors":[],"messageguid","agenttoken","status"};
// then, on the socket, {"type":"agent_info","agenttoken":T} subscribes to
// the reply: agent_subscribed, agent_start, one agent_output per chunk
// holding the whole text so far (in "raw" and in "answer"), agent_end. The
// message is a request as in the other modes ("r <id> <k> <size>
// <interval_us>"); each chunk appends "<id>:<seq>:" padded to size bytes.
// A socket carries any number of subscriptions at once (a proxy shares one
// among its sessions); each reply is written by a goroutine of its own,
// frames whole under the socket's lock.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/benchmarks/harness/internal/bench"
)

// wiroAgent holds the messages sent and not yet subscribed to, by token.
type wiroAgent struct {
	mu      sync.Mutex
	waiting map[string]string
	next    atomic.Int64
}

func newWiroAgent() *wiroAgent { return &wiroAgent{waiting: map[string]string{}} }

// serveAPI serves the REST send on ln.
func (wa *wiroAgent) serveAPI(ln net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/UserAgent/Message/Send", wa.send)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Print(srv.Serve(ln))
}

func (wa *wiroAgent) send(w http.ResponseWriter, r *http.Request) {
	var req struct{ Message, SessionKey string }
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("x-api-key") == "" {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"result":false,"errors":["missing x-api-key"]}`))
		return
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, bench.MaxMessage)).Decode(&req); err != nil || req.Message == "" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"result":false,"errors":["bad request"]}`))
		return
	}
	token := fmt.Sprintf("bench%025d", wa.next.Add(1))
	wa.mu.Lock()
	wa.waiting[token] = req.Message
	wa.mu.Unlock()
	fmt.Fprintf(w, `{"result":true,"errors":[],"messageguid":"%s","agenttoken":"%s","status":"agent_queue"}`, token, token)
}

// take returns and forgets the message sent under token.
func (wa *wiroAgent) take(token string) (string, bool) {
	wa.mu.Lock()
	defer wa.mu.Unlock()
	msg, ok := wa.waiting[token]
	delete(wa.waiting, token)
	return msg, ok
}

// wiroSocket is one subscription socket. Its frames are written by the
// replies' goroutines and by the reader (pongs): bench.Conn writes each
// whole, under its lock.
type wiroSocket struct {
	c *bench.Conn
}

func (s *wiroSocket) write(p []byte) error { return s.c.WriteText(p) }

// handle serves one subscription socket.
func (wa *wiroAgent) handle(nc net.Conn) {
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := (ws.Upgrader{}).Upgrade(nc); err != nil {
		return
	}
	_ = nc.SetDeadline(time.Time{})
	s := &wiroSocket{c: bench.NewConn(nc, nil, false, 4096)}
	var streams sync.WaitGroup
	defer streams.Wait()
	for {
		msg, err := s.c.ReadMessage()
		if err != nil {
			return
		}
		if !bytes.Contains(msg, []byte(`"agent_info"`)) {
			continue
		}
		token := string(bench.JSONString(msg, `"agenttoken":"`))
		req, ok := wa.take(token)
		if !ok {
			_ = s.write(fmt.Appendf(nil, `{"type":"agent_subscribed","agenttoken":"%s","status":"unknown","debugoutput":"","result":false}`, token))
			continue
		}
		streams.Go(func() { wa.stream(s, token, req) })
	}
}

// stream sends the reply to req under token.
func (wa *wiroAgent) stream(s *wiroSocket, token, req string) {
	f := bytes.Fields([]byte(req))
	k, size, interval, think, minSize := 1, len(req), 0, 0, 0
	id := []byte("?")
	if len(f) >= 5 && f[0][0] == 'r' {
		id = f[1]
		k, _ = strconv.Atoi(string(f[2]))
		size, _ = strconv.Atoi(string(f[3]))
		interval, _ = strconv.Atoi(string(f[4]))
		k = min(max(k, 0), 100000)
		size = min(max(size, 0), bench.MaxMessage/(4*max(k, 1)))
		if len(f) >= 7 {
			think, _ = strconv.Atoi(string(f[5]))
			minSize, _ = strconv.Atoi(string(f[6]))
			minSize = min(max(minSize, 0), size)
		}
	}
	head := func(b []byte, typ string) []byte {
		return fmt.Appendf(b, `{"type":"%s","agenttoken":"%s"`, typ, token)
	}
	if s.write(append(head(nil, "agent_subscribed"), `,"status":"agent_queue","debugoutput":"","result":true}`...)) != nil ||
		s.write(append(head(nil, "agent_start"), `,"message":"","result":true}`...)) != nil {
		return
	}
	var text, frame []byte
	progress := func(typ string, seq int) []byte {
		frame = append(head(frame[:0], typ), `,"message":{"type":"progressGenerate","task":"Generate","speed":"1","speedType":"words/s","elapsedTime":"0s","tokenCount":`...)
		frame = strconv.AppendInt(frame, int64(seq), 10)
		frame = append(frame, `,"wordCount":`...)
		frame = strconv.AppendInt(frame, int64(seq), 10)
		frame = append(frame, `,"raw":"`...)
		frame = append(frame, text...)
		frame = append(frame, `","thinking":[],"answer":["`...)
		frame = append(frame, text...)
		return append(frame, `"],"isThinking":false},"result":true}`...)
	}
	if think > 0 {
		time.Sleep(time.Duration(think) * time.Microsecond)
	}
	for seq := 0; seq < k; seq++ {
		if seq > 0 && interval > 0 {
			time.Sleep(time.Duration(interval) * time.Microsecond)
		}
		if minSize > 0 {
			text = bench.AppendChunk(text, id, seq, bench.ChunkSize(seq, minSize, size))
			if s.write(progress("agent_output", seq+1)) != nil {
				return
			}
			continue
		}
		start := len(text)
		text = append(text, id...)
		text = append(text, ':')
		text = strconv.AppendInt(text, int64(seq), 10)
		text = append(text, ':')
		for len(text)-start < size {
			text = append(text, 'x')
		}
		if s.write(progress("agent_output", seq+1)) != nil {
			return
		}
	}
	_ = s.write(progress("agent_end", k))
}
