package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/gobwas/ws"

	"github.com/agentbridge/agentbridge/translators"
)

// The proxy as a client of a backend whose dialect sends messages over REST
// and streams replies on a socket (Wiro): each session (restUpstream) sends
// with its own session key, so the backend keeps one conversation per
// session, and all sessions of a backend share one socket (restSocket),
// subscribed to each reply's token.

// restUpstream is one session's leg to a REST backend.
type restUpstream struct {
	rs     *restSocket
	key    []byte // this session's conversation on the backend
	agent  []byte // the backend's agent id
	codec  translators.Codec
	body   []byte                  // Send's request body (Send is the client pump's)
	sreq   translators.SendRequest // Send's request: passed to the codec, it would escape from a local
	resp   []byte                  // Send's copy of the backend's answer
	parsed []byte                  // Send's buffer for the parsed answer: the SendResult's slices alias it
	ids    []byte                  // Receive's copies of the session's ids, which its events alias

	held        restMsg // the message Receive's events alias, given back at the next Receive
	done        chan struct{}
	once        sync.Once
	lagReported bool // Receive returned the lagging error event (see errLagging)
	// Messages of replies whose turn has not come, by token (Receive's):
	// a backend may stream a session's replies at once, but the session
	// takes them one after the other, in the order they were sent (and
	// the codec's accumulated text is one reply's).
	later      map[string][]restMsg
	laterBytes int

	// The inbox: copies of the messages for this session's tokens, oldest
	// first from inbox[ihead]. The shared reader appends and never waits;
	// a session more than maxInbox bytes behind fails alone (errLagging).
	imu     sync.Mutex
	inbox   []restMsg
	ihead   int
	ibytes  int           // the buffers' capacity: what the queue holds in memory
	iclosed bool          // Close emptied the inbox: deliver drops
	wake    chan struct{} // one slot: deliver appended, Receive may be waiting

	mu   sync.Mutex
	sent []sentReply // the replies not ended, in the order sent
	err  error       // set when the shared socket failed
}

// sentReply is a reply a session sent and that has not ended. A session
// has few at a time (at most Limits.MaxPending), so a slice searched in
// order serves as its map both ways. The slots past len(sent) keep their
// id buffers for the next replies.
type sentReply struct {
	token string // the backend's token, also the key of the shared socket's routes
	id    []byte // the session's id for the message (a copy)
}

// findToken returns the index in sent (a restUpstream's, under its mu) of
// the reply token names, or -1.
func findToken[T string | []byte](sent []sentReply, token T) int {
	for i := range sent {
		if sent[i].token == string(token) {
			return i
		}
	}
	return -1
}

// findID returns the index in u.sent of the latest reply to the session's
// message id, or -1. u.mu is held.
func (u *restUpstream) findID(id []byte) int {
	for i := len(u.sent) - 1; i >= 0; i-- {
		if string(u.sent[i].id) == string(id) {
			return i
		}
	}
	return -1
}

// addSent records a reply sent, reusing a free slot's id buffer. u.mu is
// held.
func (u *restUpstream) addSent(token string, id []byte) {
	n := len(u.sent)
	if n == cap(u.sent) {
		u.sent = append(u.sent, sentReply{})
	}
	u.sent = u.sent[:n+1]
	u.sent[n].token = token
	u.sent[n].id = append(u.sent[n].id[:0], id...)
}

// removeSent forgets u.sent[i], moving its id buffer past the end for
// reuse. u.mu is held.
func (u *restUpstream) removeSent(i int) {
	id := u.sent[i].id
	copy(u.sent[i:], u.sent[i+1:])
	last := len(u.sent) - 1
	u.sent[last] = sentReply{id: id[:0]}
	u.sent = u.sent[:last]
}

// restMsg is a copy of a message from the shared socket and of its
// reply's token, one after the other in a pooled buffer. The zero restMsg
// holds nothing.
type restMsg struct {
	buf *[]byte // from restMsgPool: the message, then the token
	n   int     // the message's length
}

var restMsgPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func copyRESTMsg(token, msg []byte) restMsg {
	bp := restMsgPool.Get().(*[]byte)
	*bp = append(append((*bp)[:0], msg...), token...)
	return restMsg{buf: bp, n: len(msg)}
}

func (m restMsg) msg() []byte { return (*m.buf)[:m.n] }

func (m restMsg) token() []byte { return (*m.buf)[m.n:] }

// release gives m's buffer back; a large one is left to the collector.
func (m *restMsg) release() {
	if m.buf != nil && cap(*m.buf) <= 64<<10 {
		restMsgPool.Put(m.buf)
	}
	*m = restMsg{}
}

var _ Upstream = (*restUpstream)(nil)

func (s *Server) openREST(rt *Route) (*restUpstream, error) {
	rs := s.restSocketFor(rt)
	if err := rs.ensure(); err != nil {
		return nil, err
	}
	opts := rt.Backend.Options
	opts.Role = translators.Backend
	return &restUpstream{
		rs:    rs,
		key:   []byte("agentbridge-" + string(newSessionID())),
		agent: []byte(rt.Backend.AgentID),
		codec: rt.Backend.Dialect.New(opts),
		wake:  make(chan struct{}, 1),
		later: make(map[string][]restMsg),
		done:  make(chan struct{}),
	}, nil
}

func (u *restUpstream) Send(ev *translators.Event) error {
	rest := u.rs.b.Dialect.REST
	switch ev.Kind {
	case translators.KindUserMessage:
		u.sreq = translators.SendRequest{Agent: u.agent, Message: ev.Text, SessionKey: u.key}
		u.body = rest.AppendSend(u.body[:0], &u.sreq)
		u.sreq = translators.SendRequest{}
		status, resp, err := u.rs.post(u.rs.sendURL, u.body, u.resp[:0])
		u.resp = resp
		if err != nil {
			return fmt.Errorf("backend %q send: %w", u.rs.b.Name, err)
		}
		r, parsed, err := rest.ParseSendResult(u.parsed[:0], resp)
		u.parsed = parsed
		if err != nil || !r.OK || status != http.StatusOK {
			return fmt.Errorf("backend %q refused the message (HTTP %d, %v)", u.rs.b.Name, status, r.Errors)
		}
		// The one string a reply costs: the key of the socket's routes
		// and u's record of the reply share it.
		token := string(r.Token)
		u.mu.Lock()
		u.addSent(token, ev.ID)
		u.mu.Unlock()
		return u.rs.subscribe(r.Token, token, u)
	case translators.KindCancel:
		u.mu.Lock()
		i := u.findID(ev.ID)
		var token string
		if i >= 0 {
			token = u.sent[i].token
		}
		u.mu.Unlock()
		if i < 0 {
			return nil
		}
		_, _, err := u.rs.post(u.rs.cancelURL, rest.AppendCancel(nil, []byte(token)), nil)
		return err
	}
	return nil
}

// deliver queues a copy of msg for Receive. It never waits: the shared
// socket's reader serves every session of the backend, and one session
// whose client does not read must not hold the others. A session that
// falls more than maxInbox bytes behind fails instead (errLagging).
func (u *restUpstream) deliver(token, msg []byte) {
	m := copyRESTMsg(token, msg)
	u.imu.Lock()
	if u.iclosed {
		u.imu.Unlock()
		m.release()
		return
	}
	if u.ibytes+cap(*m.buf) > maxInbox {
		u.imu.Unlock()
		m.release()
		u.fail(errLagging)
		return
	}
	u.ibytes += cap(*m.buf)
	if u.ihead > 0 && len(u.inbox) == cap(u.inbox) {
		// Reuse the room Receive took from the front before growing.
		n := copy(u.inbox, u.inbox[u.ihead:])
		clear(u.inbox[n:])
		u.inbox, u.ihead = u.inbox[:n], 0
	}
	u.inbox = append(u.inbox, m)
	u.imu.Unlock()
	select {
	case u.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// pop takes the oldest message of the inbox; ok is false when it is empty.
func (u *restUpstream) pop() (m restMsg, ok bool) {
	u.imu.Lock()
	defer u.imu.Unlock()
	if u.ihead == len(u.inbox) {
		return restMsg{}, false
	}
	m = u.inbox[u.ihead]
	u.inbox[u.ihead] = restMsg{}
	u.ibytes -= cap(*m.buf)
	if u.ihead++; u.ihead == len(u.inbox) {
		u.inbox, u.ihead = u.inbox[:0], 0
	}
	return m, true
}

// maxInbox bounds the bytes of messages a session may have waiting in its
// inbox: its client reads too slowly past that. Wiro's messages carry the
// whole text so far, so a long reply's are large. A variable for tests.
var maxInbox = 4 << 20

// errLagging ends a session that fell more than maxInbox behind the shared
// socket. Receive first returns lagEvent, the dialect's error for the
// client, then errLagging: the session closes its client with 1008, as
// after a backend's close with that code.
var (
	errLagging = &BackendClosed{Code: int(ws.StatusPolicyViolation), Reason: "client too slow"}
	lagEvent   = translators.Event{Kind: translators.KindError, Code: []byte("too_slow"),
		Text: []byte("the client did not read its replies fast enough; the session is closed")}
)

func (u *restUpstream) fail(err error) {
	u.mu.Lock()
	u.err = err
	u.mu.Unlock()
	u.Close(int(ws.StatusGoingAway), "")
}

func (u *restUpstream) Receive(dst []translators.Event) ([]translators.Event, error) {
	u.ids = u.ids[:0] // the previous Receive's events are no longer used
	for {
		u.held.release() // nor the message they aliased
		msg, err := u.next()
		if err == errLagging && !u.lagReported {
			u.lagReported = true
			return append(dst, lagEvent), nil
		}
		if err != nil {
			return dst, err
		}
		if msg.buf == nil {
			return dst, nil // nothing for the current reply now: the session writes what it holds
		}
		u.held = msg
		n := len(dst)
		dst, err = u.codec.Decode(dst, msg.msg())
		if err != nil {
			return dst, errBadBackendMessage
		}
		// Keep what the session needs: its own ids instead of the backend's
		// tokens, and a subscription snapshot only when it holds text.
		out := dst[:n]
		for _, ev := range dst[n:] {
			u.mu.Lock()
			i := findToken(u.sent, ev.ID)
			var token string
			if i >= 0 {
				// A copy of the id: forget may give the record's
				// buffer to the next Send while ev is still in use.
				start := len(u.ids)
				u.ids = append(u.ids, u.sent[i].id...)
				ev.ID = u.ids[start:len(u.ids):len(u.ids)]
				token = u.sent[i].token
			}
			u.mu.Unlock()
			if i < 0 {
				continue
			}
			switch ev.Kind {
			case translators.KindSubscribed:
				if len(ev.Full) == 0 && len(ev.Thinking) == 0 {
					continue
				}
				ev.Kind, ev.Text = translators.KindTextSnapshot, ev.Full
			case translators.KindTurnEnd, translators.KindError, translators.KindCancel:
				u.forget(token)
			}
			out = append(out, ev)
		}
		if len(out) > n || !u.more() {
			// Events, or none and nothing queued: the session held its
			// writes for this message (more), so it must not wait unseen.
			return out, nil
		}
		dst = out
	}
}

// more reports whether a message is already queued for Receive. It may be
// a later reply's, which Receive holds back: then Receive returns at once,
// with no events, rather than wait with the session's frames held.
func (u *restUpstream) more() bool {
	u.imu.Lock()
	defer u.imu.Unlock()
	return u.ihead < len(u.inbox)
}

// next returns the next message of the reply whose turn it is (the oldest
// not ended), holding back those of later replies, or of a token the
// session does not know (Receive drops it). Once it held one back, it
// waits no more: it returns an empty message when the queue is empty, so
// that the session writes what it held for that message (more).
func (u *restUpstream) next() (restMsg, error) {
	heldBack := false
	for {
		cur := u.current()
		if q := u.later[cur]; len(q) > 0 {
			if len(q) == 1 {
				delete(u.later, cur)
			} else {
				u.later[cur] = q[1:]
			}
			u.laterBytes -= q[0].n
			return q[0], nil
		}
		m, ok := u.pop()
		for !ok && !heldBack {
			select {
			case <-u.wake:
				m, ok = u.pop()
			case <-u.done:
				u.mu.Lock()
				err := u.err
				u.mu.Unlock()
				if err == nil {
					err = io.EOF
				}
				return restMsg{}, err
			}
		}
		if !ok {
			return restMsg{}, nil
		}
		// The reply whose turn it is, again: a Send may have recorded it
		// while next waited, and this may be its first message.
		token := m.token()
		u.mu.Lock()
		cur = ""
		if len(u.sent) > 0 {
			cur = u.sent[0].token
		}
		i := findToken(u.sent, token)
		var key string
		if i >= 0 {
			key = u.sent[i].token
		}
		u.mu.Unlock()
		if i >= 0 && key != cur {
			if u.laterBytes += m.n; u.laterBytes > maxHeldBack {
				m.release()
				return restMsg{}, errHeldBack
			}
			u.later[key] = append(u.later[key], m)
			heldBack = true
			continue
		}
		return m, nil
	}
}

// current returns the token of the reply whose turn it is (the oldest not
// ended), or "" when none is.
func (u *restUpstream) current() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.sent) == 0 {
		return ""
	}
	return u.sent[0].token
}

func (u *restUpstream) forget(token string) {
	u.rs.unsubscribe(token)
	u.mu.Lock()
	if i := findToken(u.sent, token); i >= 0 {
		u.removeSent(i)
	}
	u.mu.Unlock()
	for i := range u.later[token] {
		u.laterBytes -= u.later[token][i].n
		u.later[token][i].release()
	}
	delete(u.later, token)
}

// maxHeldBack bounds the bytes of later replies a session holds back while
// an earlier one streams: accumulated text makes them grow fast. A
// variable for tests.
var maxHeldBack = 8 << 20

var errHeldBack = errors.New("the backend streamed later replies too far ahead of the current one")

func (u *restUpstream) Close(int, string) {
	u.once.Do(func() {
		close(u.done)
		u.imu.Lock()
		u.iclosed = true
		for i := u.ihead; i < len(u.inbox); i++ {
			u.inbox[i].release()
		}
		u.inbox, u.ihead, u.ibytes = nil, 0, 0
		u.imu.Unlock()
		u.mu.Lock()
		tokens := make([]string, 0, len(u.sent))
		for _, r := range u.sent {
			tokens = append(tokens, r.token)
		}
		u.mu.Unlock()
		for _, t := range tokens {
			u.rs.unsubscribe(t)
		}
	})
}
