package auth

import (
	"context"
	"sync"
	"time"
)

// fakeClock is a settable clock for the providers' Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// authenticator is what the proxy calls; every provider must satisfy it.
type authenticator interface {
	Authenticate(ctx context.Context, c Credential) (Identity, error)
}

var (
	_ authenticator = (*Secret)(nil)
	_ authenticator = (*Tickets)(nil)
	_ authenticator = (*JWT)(nil)
	_ authenticator = (*TrustedHeader)(nil)
)
