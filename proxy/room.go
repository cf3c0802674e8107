package proxy

import (
	"sync"

	"github.com/agentbridge/agentbridge/proxy/internal/wsconn"
	"github.com/agentbridge/agentbridge/translators"
)

// Rooms: the translating sessions of one path of a route whose client
// dialect shares replies (translators.Dialect.Replayed, the Agents SDK). The
// SDK's server writes every frame of a chat reply to every socket of the
// agent instance (each tab filters by the request's id) and keeps the
// frames of the reply in progress, so that a socket connecting again
// mid-reply (a reloaded tab) gets them replayed, then the rest. A room does
// both: the session streaming a reply (the owner) copies each frame it
// writes for it into the room, and at each of its writes hands the new
// frames to the room's followers: the other sessions of the path that were
// there when the reply began, and those that asked for it since
// (KindResume, then KindReplay).
//
// A room keeps one reply at a time: the first to begin while none streams
// there; a reply that begins beside it reaches its own client only. Only
// replies to user messages that carried an id are shared (the SDK's chat
// requests; a raw text message's reply is its sender's). Frames are kept as
// written, whole WebSocket frames, in a buffer lent by replyBufs from the
// reply's first frame until its owner has handed its last to the
// followers; after that the reply is in the path's history (get-messages)
// and a probe is answered that nothing streams.
//
// Locks: a session's cmu is taken before its room's mu, and no session
// holds two cmus: an owner writes to its followers (fanOut) with its own
// cmu let go.

// maxShared bounds the bytes of frames a room keeps of one reply: past it
// the reply is no longer resumable, and followers stop getting it.
const maxShared = 1 << 20

// rooms holds the rooms of every path that has sessions.
type rooms struct {
	mu sync.Mutex
	m  map[string]*room
}

// room is the sessions of one path and the reply they share.
type room struct {
	key  string
	refs int // sessions joined; under rooms.mu

	mu      sync.Mutex
	members []*session // the sessions joined, the owner included
	owner   *session   // the session whose reply is kept, or nil
	id      []byte     // that reply's id
	kept    *replyBuf  // its frames so far; nil when no reply is kept
	live    bool       // the reply is streaming
	ending  bool       // it ended, and its owner has not handed out the last frames yet
	over    bool       // it passed maxShared: not kept any more
	subs    []follower // the sessions getting its frames
}

// replyBuf is the frames of one reply: whole frames one after the other in
// b, and where each ends in ends.
type replyBuf struct {
	b    []byte
	ends []int
}

// replyBufs lends rooms their replyBuf while a reply streams, so that a
// path between replies (an idle socket) holds none, and a reply costs no
// allocation once the pool holds buffers of the replies' size.
var replyBufs = sync.Pool{New: func() any { return new(replyBuf) }}

// follower is a session getting a room's reply, and the frames it has had.
type follower struct {
	ss *session
	at int
}

// join adds ss to the room of key, making it when new.
func (rs *rooms) join(key string, ss *session) *room {
	rs.mu.Lock()
	if rs.m == nil {
		rs.m = make(map[string]*room)
	}
	r := rs.m[key]
	if r == nil {
		r = &room{key: key}
		rs.m[key] = r
	}
	r.refs++
	rs.mu.Unlock()
	r.mu.Lock()
	r.members = append(r.members, ss)
	r.mu.Unlock()
	return r
}

// leave takes ss, which has ended, out of r, and forgets r when it was the
// last session of its path. A reply ss was keeping must have been ended
// first (session.abandonShared).
func (rs *rooms) leave(r *room, ss *session) {
	r.mu.Lock()
	r.members = removeSession(r.members, ss)
	r.dropFollower(ss)
	if r.owner == ss {
		r.owner = nil
	}
	r.mu.Unlock()
	rs.mu.Lock()
	if r.refs--; r.refs == 0 {
		delete(rs.m, r.key)
	}
	rs.mu.Unlock()
}

func removeSession(ss []*session, s *session) []*session {
	for i, x := range ss {
		if x == s {
			copy(ss[i:], ss[i+1:])
			ss[len(ss)-1] = nil
			return ss[:len(ss)-1]
		}
	}
	return ss
}

// dropFollower takes ss out of the followers. mu is held.
func (r *room) dropFollower(ss *session) {
	for i := range r.subs {
		if r.subs[i].ss == ss {
			copy(r.subs[i:], r.subs[i+1:])
			r.subs[len(r.subs)-1] = follower{}
			r.subs = r.subs[:len(r.subs)-1]
			return
		}
	}
}

// begin makes owner's reply id the one r keeps, unless another streams or
// the last one's frames are still being handed out; every other member
// follows it from its first frame.
func (r *room) begin(owner *session, id []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.live || r.ending {
		return false
	}
	r.owner, r.live, r.over = owner, true, false
	r.id = append(r.id[:0], id...)
	r.kept = replyBufs.Get().(*replyBuf)
	r.kept.b, r.kept.ends = r.kept.b[:0], r.kept.ends[:0]
	clear(r.subs)
	r.subs = r.subs[:0]
	for _, m := range r.members {
		if m != owner {
			r.subs = append(r.subs, follower{ss: m})
		}
	}
	return true
}

// add keeps frames, whole frames the owner wrote for the reply; end says
// they end it.
func (r *room) add(frames []byte, end bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k := r.kept; k != nil && !r.over {
		if len(k.b)+len(frames) > maxShared {
			r.over = true
			r.subs = r.subs[:0] // the followers had what fitted; the rest is their loss
		} else {
			for len(frames) > 0 {
				h, hl, err := wsconn.ParseHeader(frames)
				n := hl + int(h.Length)
				if err != nil || n > len(frames) {
					break // not a frame the session wrote: cannot happen
				}
				k.b = append(translators.Reserve(k.b, n, 4<<10), frames[:n]...)
				k.ends = append(translators.Reserve(k.ends, 1, 64), len(k.b))
				frames = frames[n:]
			}
		}
	}
	if end {
		r.live, r.ending = false, true
	}
}

// fanOut writes to each follower of r the frames it has not had, on the
// owner's backend pump after its own write, its cmu let go. A follower
// whose socket fails is dropped: its own pump finds the failure. Once the
// reply has ended, this hands out its last frames and lets its buffer go.
func (r *room) fanOut(scratch []*session) []*session {
	r.mu.Lock()
	for _, f := range r.subs {
		scratch = append(scratch, f.ss)
	}
	r.mu.Unlock()
	for i, f := range scratch {
		f.cmu.Lock()
		r.mu.Lock()
		if j := r.follower(f); j >= 0 && r.kept != nil {
			from := 0
			if k := r.subs[j].at; k > 0 {
				from = r.kept.ends[k-1]
			}
			f.lendPend()
			f.pend = append(f.pend, r.kept.b[from:]...)
			r.subs[j].at = len(r.kept.ends)
		}
		r.mu.Unlock()
		if err := f.flushLocked(); err != nil {
			r.mu.Lock()
			r.dropFollower(f)
			r.mu.Unlock()
		}
		if f.idleNow() {
			f.releasePend() // a follower's pumps may stay parked: it holds no buffer between writes
		}
		f.cmu.Unlock()
		scratch[i] = nil
	}
	r.mu.Lock()
	r.endLocked()
	r.mu.Unlock()
	return scratch[:0]
}

// endLocked lets the buffer of a reply that ended go, once its followers
// had its last frames. r.mu is held.
func (r *room) endLocked() {
	if r.ending {
		r.ending = false
		clear(r.subs)
		r.subs = r.subs[:0]
		if r.kept != nil && cap(r.kept.b) <= maxShared {
			replyBufs.Put(r.kept)
		}
		r.kept = nil
	}
}

// fanOutAlone is fanOut for a room without followers, on the poller's
// goroutine (session.RunInline): it reports false, having done nothing,
// when the room has followers, whose writes may block, or its lock is
// busy; the caller then runs fanOut on a goroutine.
func (r *room) fanOutAlone() bool {
	if !r.mu.TryLock() {
		return false
	}
	defer r.mu.Unlock()
	if len(r.subs) > 0 {
		return false
	}
	r.endLocked()
	return true
}

// follower returns the index of ss among the followers, or -1. mu is held.
func (r *room) follower(ss *session) int {
	for j := range r.subs {
		if r.subs[j].ss == ss {
			return j
		}
	}
	return -1
}

// inProgress returns the id of the reply streaming in r that ss could
// resume, or nil: ss neither keeps nor follows it.
func (r *room) inProgress(ss *session) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.live || r.over || r.owner == ss || r.follower(ss) >= 0 {
		return nil
	}
	return r.id
}

// replay appends to ss.pend (its cmu held) the frames kept of the reply
// id, each message passed through replayed, and makes ss a follower of the
// rest; it reports whether the reply was there and still streams.
func (r *room) replay(ss *session, id []byte, replayed func(dst, msg []byte) []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.kept
	if !r.live || k == nil || r.over || len(id) == 0 || string(id) != string(r.id) || r.owner == ss {
		return false
	}
	r.dropFollower(ss)
	from := 0
	for _, end := range k.ends {
		h, hl, _ := wsconn.ParseHeader(k.b[from:end])
		start := len(ss.pend)
		ss.pend = replayed(append(ss.pend, make([]byte, wsconn.HeaderRoom)...), k.b[from+hl:end])
		ss.pend = wsconn.FrameAt(ss.pend, start, h.OpCode)
		from = end
	}
	r.subs = append(r.subs, follower{ss: ss, at: len(k.ends)})
	return true
}

// Session side.

// shareTurn is called by the backend pump (cmu held) for each event it
// queues; before is where the event's frames begin in ss.pend. It begins
// keeping a reply at its start, keeps its frames, and ends it.
func (ss *session) shareTurn(ev *translators.Event, before int) {
	switch ev.Kind {
	case translators.KindTurnStart:
		if !ss.sharing && len(ev.ID) > 0 && ss.room.begin(ss, ev.ID) {
			ss.sharing = true
		}
	case translators.KindTurnEnd, translators.KindError, translators.KindCancel:
		if ss.sharing && string(ev.ID) == string(ss.room.id) {
			ss.room.add(ss.pend[before:], true)
			ss.sharing = false
			ss.shared = true
			return
		}
	}
	if ss.sharing && len(ss.pend) > before && string(ev.ID) == string(ss.room.id) {
		ss.room.add(ss.pend[before:], false)
	}
}

// shareHistory sends the conversation of ss's path, which ss's client just
// changed, to the other sockets of the path (KindHistory), as the SDK's
// server sends them the messages it persists. It runs on ss's client pump,
// holding no cmu; a path with one socket costs nothing.
func (ss *session) shareHistory() {
	r := ss.room
	if r == nil || len(ss.rt.Client.HTTP) == 0 {
		return
	}
	r.mu.Lock()
	others := len(r.members) > 1
	r.mu.Unlock()
	if !others {
		return
	}
	body := ss.s.transcripts.appendBody(nil, ss.conv, &ss.rt.Client.HTTP[0])
	r.mu.Lock()
	members := append([]*session(nil), r.members...)
	r.mu.Unlock()
	for _, m := range members {
		if m == ss {
			continue
		}
		_ = m.emit(translators.Event{Kind: translators.KindHistory, Value: body}) // a failed socket is found by its own pump
	}
}
