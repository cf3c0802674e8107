package netpoll

import (
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Handler is what a registered socket calls back. Ready runs on the
// poller's goroutine (or, when the table was busy, on a goroutine of its
// own) and must not block. hup says the peer shut its side or the socket
// failed: bytes may still be read before the end, so a short read no longer
// means the socket was drained. When the poller fails, every handler
// still registered gets Ready(true) once.
type Handler interface {
	Ready(hup bool)
}

// Poller is the process's epoll instances: one per P (GOMAXPROCS), each
// with its own goroutine, registration table and lock. A socket belongs to
// the shard its descriptor picks (fd % shards) for as long as it is open.
// With one instance, every parked connection's events were served one
// after another on one goroutine, so a frame waited behind the others of
// its batch while the other Ps idled; shards serve them side by side, as
// nginx's workers do.
type Poller struct {
	failed atomic.Bool // epoll failed: the loops ended, or will at their next wake-up
	shards []*shard
}

// shard is one epoll instance and the handlers of its descriptors.
type shard struct {
	p    *Poller
	epfd int
	f    *os.File // epfd, registered with the runtime poller
	evs  []unix.EpollEvent

	mu    sync.Mutex
	slots []Handler // by slot (fd / the number of shards)
}

var (
	once sync.Once
	the  *Poller
)

// Get returns the process's poller, starting it on first use; nil if epoll
// is unavailable or failed, in which case nothing parks.
func Get() *Poller {
	once.Do(func() {
		p, err := start(runtime.GOMAXPROCS(0))
		if err != nil {
			slog.Error("netpoll: no epoll; connections read on goroutines of their own", "err", err)
			return
		}
		the = p
	})
	if the == nil || the.failed.Load() {
		return nil
	}
	return the
}

func start(n int) (*Poller, error) {
	p := &Poller{}
	for range max(n, 1) {
		s, err := newShard(p)
		if err != nil {
			for _, s := range p.shards {
				s.f.Close()
			}
			return nil, err
		}
		p.shards = append(p.shards, s)
	}
	for _, s := range p.shards {
		rc, err := s.f.SyscallConn()
		if err != nil {
			return nil, err // an *os.File of a descriptor just made: not seen
		}
		go s.loop(rc)
	}
	return p, nil
}

func newShard(p *Poller) (*shard, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, err
	}
	return &shard{p: p, epfd: epfd, f: os.NewFile(uintptr(epfd), "agentbridge-epoll"), evs: make([]unix.EpollEvent, 256)}, nil
}

// of returns fd's shard and its slot there.
func (p *Poller) of(fd int) (*shard, int) {
	n := len(p.shards)
	return p.shards[fd%n], fd / n
}

// loop calls the handlers of sockets that became readable. It reads events
// without blocking (a zero timeout) and waits for more under the runtime
// poller, so no thread blocks in epoll_wait. It ends if epoll fails.
// (A thread blocked in epoll_pwait on epfd instead was measured and costs
// more: sysmon never sleeps while it blocks, and it wakes per event where
// this loop batches; benchmarks/RESULTS.md, 2026-12-04.)
func (s *shard) loop(rc syscall.RawConn) {
	var failed error
	wait := func(fd uintptr) bool {
		n, err := epollPoll(int(fd), s.evs)
		switch {
		case err == unix.EINTR:
			return false
		case err != nil:
			failed = err
			return true
		case n == 0:
			return false
		}
		for i := range s.evs[:n] {
			ev := &s.evs[i]
			_, slot := s.p.of(int(ev.Fd))
			s.dispatch(slot, ev.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0)
		}
		// A short batch emptied the ready list: wait under the runtime
		// poller (an event that came meanwhile ends the wait at once)
		// rather than spend an epoll_wait to learn there is none.
		return n == len(s.evs)
	}
	for failed == nil && !s.p.failed.Load() {
		if err := rc.Read(wait); err != nil {
			failed = err
		}
	}
	if failed != nil {
		s.p.fail(failed)
	}
}

// fail stops the poller for good: Get returns nil from now on, and every
// handler still registered, in every shard, is called once, so that its
// reader resumes and goes on without parking.
func (p *Poller) fail(err error) {
	if p.failed.Swap(true) {
		return
	}
	slog.Error("netpoll: epoll failed; parked connections resume and read on goroutines of their own", "err", err)
	hs := make([]Handler, 0, 64)
	for _, s := range p.shards {
		s.mu.Lock()
		for i, h := range s.slots {
			if h != nil {
				hs = append(hs, h)
				s.slots[i] = nil
			}
		}
		s.mu.Unlock()
	}
	for _, h := range hs {
		h.Ready(true)
	}
}

// Failed reports whether the poller stopped (see Get).
func (p *Poller) Failed() bool { return p.failed.Load() }

// dispatch calls the handler in slot i. The table's lock is only tried:
// when another goroutine holds it, the event goes to a goroutine of its
// own, so that the shard's loop never waits.
func (s *shard) dispatch(i int, hup bool) {
	if !s.mu.TryLock() {
		go s.dispatchLocked(i, hup)
		return
	}
	h := s.lookup(i)
	s.mu.Unlock()
	if h != nil {
		h.Ready(hup)
	}
}

func (s *shard) dispatchLocked(i int, hup bool) {
	s.mu.Lock()
	h := s.lookup(i)
	s.mu.Unlock()
	if h != nil {
		h.Ready(hup)
	}
}

// lookup returns slot i's handler; s.mu is held.
func (s *shard) lookup(i int) Handler {
	if i < len(s.slots) {
		return s.slots[i]
	}
	return nil
}

// Set makes h fd's handler, before fd is armed (Arm).
func (p *Poller) Set(fd int, h Handler) {
	s, i := p.of(fd)
	s.mu.Lock()
	if i >= len(s.slots) {
		n := 2 * len(s.slots)
		if n <= i {
			n = i + 1024
		}
		grown := make([]Handler, n)
		copy(grown, s.slots)
		s.slots = grown
	}
	s.slots[i] = h
	s.mu.Unlock()
}

// Clear forgets fd's handler if it is still h. The registration itself ends
// when the socket is closed.
func (p *Poller) Clear(fd int, h Handler) {
	s, i := p.of(fd)
	s.mu.Lock()
	if i < len(s.slots) && s.slots[i] == h {
		s.slots[i] = nil
	}
	s.mu.Unlock()
}

// Arm registers fd (added false) or re-arms it (added true) for one
// readiness event, or with edge for every edge from now on. The caller
// must keep fd open meanwhile (a raw read callback does).
func (p *Poller) Arm(fd int, added, edge bool) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(fd)}
	if edge {
		ev.Events = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET
	}
	op := unix.EPOLL_CTL_MOD
	if !added {
		op = unix.EPOLL_CTL_ADD
	}
	s, _ := p.of(fd)
	return epollCtl(s.epfd, op, fd, &ev)
}

// epollPoll is epoll_pwait(2) with a zero timeout and no signal mask, and
// epollCtl is epoll_ctl(2), both made as raw system calls: neither blocks,
// so the scheduler need not know of them. Through unix.EpollWait and
// EpollCtl (syscall.Syscall6) every call enters the runtime's system-call
// state, and when the process was idle (every P idle, sysmon asleep) that
// wakes sysmon: a futex wake, a second thread scheduled, its yield, sleep
// and futex wait, on every wake-up of the poller (benchmarks/RESULTS.md,
// 2026-12-04: 2 futex, 1 nanosleep, 4 context switches and 2 threads per
// relayed frame at low load). rawRead and rawWrite in wsconn avoid the
// same for reads and writes.
func epollPoll(epfd int, evs []unix.EpollEvent) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func epollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// Each calls f with every registered handler, under its shard's lock; for
// tests and diagnostics.
func (p *Poller) Each(f func(Handler)) {
	for _, s := range p.shards {
		s.mu.Lock()
		for _, h := range s.slots {
			if h != nil {
				f(h)
			}
		}
		s.mu.Unlock()
	}
}
