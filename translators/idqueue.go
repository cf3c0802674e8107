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
	ids  [][]byte // a ring; grows up to max as needed
	max  int
	head int
	n    int
}

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
	q.ids, q.max, q.head, q.n = nil, capacity, 0, 0
}

// Push appends a copy of id. It reports false, keeping nothing, when the
// queue is full.
func (q *IDQueue) Push(id []byte) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == len(q.ids) {
		if q.n == q.max {
			return false
		}
		q.grow()
	}
	i := (q.head + q.n) % len(q.ids)
	q.ids[i] = append(q.ids[i][:0], id...)
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
	dst = append(dst, q.ids[q.head]...)
	q.head = (q.head + 1) % len(q.ids)
	q.n--
	return dst
}

// PopIf removes the oldest id when it equals id: a backend that echoes ids
// answered it.
func (q *IDQueue) PopIf(id []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n > 0 && bytes.Equal(q.ids[q.head], id) {
		q.head = (q.head + 1) % len(q.ids)
		q.n--
	}
}

// Len returns the number of ids waiting.
func (q *IDQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// grow doubles the ring (up to max), keeping the ids in order.
func (q *IDQueue) grow() {
	size := min(max(2*len(q.ids), 4), q.max)
	ids := make([][]byte, size)
	for i := 0; i < q.n; i++ {
		ids[i] = q.ids[(q.head+i)%len(q.ids)]
	}
	q.ids, q.head = ids, 0
}
