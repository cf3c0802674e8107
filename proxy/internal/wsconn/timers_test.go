package wsconn

import (
	"math/rand"
	"sync"
	"testing"
	"time"
)

// TestTimersKickEachDueConnOnce schedules, moves and cancels the kicks of
// many Conns on one heap, and checks that each scheduled Conn is kicked
// once, no earlier than its last time, that a cancelled one is not, and
// that the heap lets go of every Conn.
func TestTimersKickEachDueConnOnce(t *testing.T) {
	var th timerHeap
	const n = 500
	rng := rand.New(rand.NewSource(1))
	var mu sync.Mutex
	kicked := make(map[*Conn][]mono)
	conns := make([]*Conn, n)
	want := make(map[*Conn]mono)
	// Scheduled an hour ahead, then moved and cancelled there, so that
	// nothing fires before the last pass, however slow the machine.
	far := monoNow().add(time.Hour)
	for i := range conns {
		c := &Conn{}
		c.kick = func() {
			mu.Lock()
			kicked[c] = append(kicked[c], monoNow())
			mu.Unlock()
		}
		conns[i] = c
		th.schedule(c, far.add(time.Duration(rng.Intn(1000))*time.Millisecond), false)
		checkHeap(t, &th)
	}
	for i, c := range conns {
		switch i % 3 {
		case 0: // moved, earlier or later
			th.schedule(c, far.add(time.Duration(rng.Intn(1000))*time.Millisecond), false)
		case 1:
			th.cancel(c)
		}
		checkHeap(t, &th)
	}
	start := monoNow()
	for i, c := range conns {
		if i%3 != 1 {
			at := start.add(10*time.Millisecond + time.Duration(rng.Intn(50))*time.Millisecond)
			th.schedule(c, at, false)
			want[c] = at
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		done := len(kicked) >= len(want)
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // a kick twice would show by now
	mu.Lock()
	defer mu.Unlock()
	for _, c := range conns {
		at, ok := want[c]
		got := kicked[c]
		switch {
		case !ok && len(got) > 0:
			t.Errorf("a cancelled conn was kicked %d times", len(got))
		case ok && len(got) != 1:
			t.Errorf("a conn due at %v was kicked %d times", at.sub(start), len(got))
		case ok && got[0] < at:
			t.Errorf("a conn due at %v was kicked %v early", at.sub(start), at.sub(got[0]))
		}
		if c.hIdx != 0 {
			t.Errorf("a conn kept its heap place %d", c.hIdx)
		}
	}
	th.mu.Lock()
	if len(th.h) != 0 {
		t.Errorf("the heap holds %d entries after every kick", len(th.h))
	}
	th.mu.Unlock()
}

// checkHeap checks the heap's order and that every Conn knows its place.
func checkHeap(t *testing.T, th *timerHeap) {
	t.Helper()
	th.mu.Lock()
	defer th.mu.Unlock()
	for i, e := range th.h {
		if e.c.hIdx != i+1 {
			t.Fatalf("entry %d's conn says it is at %d", i, e.c.hIdx-1)
		}
		if p := (i - 1) / 2; i > 0 && th.h[p].at > e.at {
			t.Fatalf("entry %d is earlier than its parent %d", i, p)
		}
	}
}

// TestTimersShrink checks that the heap gives back the room of the
// connections that left.
func TestTimersShrink(t *testing.T) {
	var th timerHeap
	conns := make([]*Conn, 8*minHeapCap)
	far := monoNow().add(time.Hour)
	for i := range conns {
		conns[i] = &Conn{kick: func() {}}
		th.schedule(conns[i], far.add(time.Duration(i)), false)
	}
	for _, c := range conns[1:] {
		th.cancel(c)
	}
	checkHeap(t, &th)
	if len(th.h) != 1 || cap(th.h) > minHeapCap {
		t.Errorf("one entry left: length %d, capacity %d", len(th.h), cap(th.h))
	}
	th.cancel(conns[0])
	th.t.Stop()
}

// TestCloseLeavesTimers checks that a closed Conn is out of the timers
// heap at once, not held until its next ping was due: a process with
// connections coming and going must not keep the closed ones.
func TestCloseLeavesTimers(t *testing.T) {
	nc, _ := tcpPair(t)
	c := New(nc, true, time.Second, 0)
	c.StartKeepalive(time.Hour)
	timers.mu.Lock()
	in := c.hIdx != 0
	timers.mu.Unlock()
	if !in {
		t.Fatal("a Conn with keepalive is not in the timers heap")
	}
	c.Close()
	timers.mu.Lock()
	defer timers.mu.Unlock()
	if c.hIdx != 0 {
		t.Fatal("a closed Conn is still in the timers heap")
	}
	for _, e := range timers.h {
		if e.c == c {
			t.Fatal("the timers heap holds a closed Conn")
		}
	}
}
