package translators

import (
	"bytes"
	"sync"
)

// IDQueue is a bounded FIFO of correlation ids: the ids of user messages
// sent to a backend that does not echo them, waiting for their replies. The
// client side pushes and the backend side pops, so it is safe for concurrent
// use. Ids are copied in and out; after warm-up it allocates nothing.
type IDQueue struct {
	mu   sync.Mutex
	r    *idRing // lent from idRings by Push, given back by Release; nil when none
	max  int
	head int
	n    int
}

// idRing is a queue's ring of ids, with the buffers of the ids it held, so
// that the ring and its buffers go back to idRings together.
type idRing struct{ ids [][]byte }

var idRings = sync.Pool{New: func() any { return new(idRing) }}

// NewIDQueue returns a queue holding at most capacity ids. Its ring starts
// small, so an idle session costs little.
func NewIDQueue(capacity int) *IDQueue {
	q := new(IDQueue)
	q.Init(capacity)
	return q
}

// Init makes q an empty queue of at most capacity ids (at least one), for
// a queue that lives inside its owner.
func (q *IDQueue) Init(capacity int) {
	if capacity < 1 {
		capacity = 1
	}
	q.r, q.max, q.head, q.n = nil, capacity, 0, 0
}

// Release gives the ring back to a pool when the queue is empty, so that
// an idle session does not hold it; the next Push takes one again.
func (q *IDQueue) Release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n > 0 || q.r == nil {
		return
	}
	idRings.Put(q.r)
	q.r, q.head = nil, 0
}

// Push appends a copy of id. It reports false, keeping nothing, when the
// queue is full.
func (q *IDQueue) Push(id []byte) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == q.max {
		return false
	}
	if q.r == nil {
		q.r = idRings.Get().(*idRing) // its ring may be longer than max: n is checked against max
	}
	ids := q.r.ids
	if q.n == len(ids) {
		ids = q.grow()
	}
	i := (q.head + q.n) % len(ids)
	ids[i] = append(ids[i][:0], id...)
	q.n++
	return true
}

// Pop appends the oldest id to dst, removes it, and returns dst. An empty
// queue leaves dst unchanged.
func (q *IDQueue) Pop(dst []byte) []byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return dst
	}
	ids := q.r.ids
	dst = append(dst, ids[q.head]...)
	q.head = (q.head + 1) % len(ids)
	q.n--
	return dst
}

// PopIf removes the oldest id when it equals id: a backend that echoes ids
// answered it.
func (q *IDQueue) PopIf(id []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n > 0 && bytes.Equal(q.r.ids[q.head], id) {
		q.head = (q.head + 1) % len(q.r.ids)
		q.n--
	}
}

// Len returns the number of ids waiting.
func (q *IDQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// grow doubles the ring (up to max), keeping the ids in order, and
// returns it. The queue is full and shorter than max.
func (q *IDQueue) grow() [][]byte {
	old := q.r.ids
	size := min(max(2*len(old), 4), q.max)
	ids := make([][]byte, size)
	for i := 0; i < q.n; i++ {
		ids[i] = old[(q.head+i)%len(old)]
	}
	q.r.ids, q.head = ids, 0
	return ids
}
