package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sync"
	"time"
)

// ticketBytes is the entropy of a ticket: 256 bits, well above the 128 a
// guess-resistant bearer token needs.
const ticketBytes = 32

// ticketLen is the length of a ticket's text (unpadded URL-safe base64).
var ticketLen = base64.RawURLEncoding.EncodedLen(ticketBytes)

// TicketsConfig configures a ticket provider. Its zero value, with a Name,
// is usable.
type TicketsConfig struct {
	// Name is the provider's name, reported as Identity.Provider.
	Name string
	// TTL is how long a ticket may wait before its one use. If zero, 30s is
	// used.
	TTL time.Duration
	// Now is the clock. If nil, time.Now is used.
	Now func() time.Time
	// MaxOutstanding bounds how many tickets are remembered at once (unused,
	// or used or expired but not yet swept). Issue fails when it is reached.
	// If zero, 100000 is used.
	MaxOutstanding int
}

// Tickets issues and admits single-use tickets: short-lived opaque random
// strings, each bound to one route and one path of it, that a client obtains over an
// authenticated REST call and presents once when it connects (browsers
// cannot set headers on a WebSocket handshake, so a ticket in the query is
// safer than a long-lived secret there).
//
// Only the SHA-256 of each ticket is stored, never the ticket itself, and a
// presented ticket is looked up by its hash, so the lookup's timing says
// nothing about how close a guess was and a memory dump yields no usable
// ticket.
//
// A ticket is consumed by its first presentation, whatever the outcome: a
// use on another route or path, or after expiry, burns it too, so a ticket that
// leaked in a URL cannot be retried against the right route. Consumed and
// expired tickets are remembered for one more TTL, so that a reuse is
// reported as ErrReplayed and a late use as ErrExpired; after that they are
// swept and report ErrInvalid.
//
// The store is in memory: a ticket is valid only on the instance that issued
// it. Behind a load balancer without affinity, use a shared store instead.
//
// A Tickets is safe for concurrent use.
type Tickets struct {
	name string
	ttl  time.Duration
	now  func() time.Time
	max  int

	mu        sync.Mutex
	entries   map[[sha256.Size]byte]*ticketEntry
	lastSweep time.Time
}

type ticketEntry struct {
	route   string
	path    string
	expires time.Time
	used    bool
}

// NewTickets returns a ticket provider for cfg.
func NewTickets(cfg TicketsConfig) (*Tickets, error) {
	if cfg.TTL < 0 {
		return nil, errors.New("auth: ticket provider " + cfg.Name + ": negative ttl")
	}
	if cfg.MaxOutstanding < 0 {
		return nil, errors.New("auth: ticket provider " + cfg.Name + ": negative max outstanding")
	}
	t := &Tickets{
		name:    cfg.Name,
		ttl:     cfg.TTL,
		now:     cfg.Now,
		max:     cfg.MaxOutstanding,
		entries: make(map[[sha256.Size]byte]*ticketEntry),
	}
	if t.ttl == 0 {
		t.ttl = 30 * time.Second
	}
	if t.now == nil {
		t.now = time.Now
	}
	if t.max == 0 {
		t.max = 100000
	}
	return t, nil
}

// ErrTooManyTickets is returned by Issue when MaxOutstanding tickets are
// remembered; callers should answer 503 and let the client retry later.
var ErrTooManyTickets = errors.New("auth: too many outstanding tickets")

// Issue returns a new ticket for path on route and when it expires. The
// ticket is URL-safe and may be put in a query string as is.
func (t *Tickets) Issue(route, path string) (ticket string, expires time.Time, err error) {
	if route == "" || path == "" {
		return "", time.Time{}, errors.New("auth: ticket for an empty route or path")
	}
	var b [ticketBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", time.Time{}, err
	}
	ticket = base64.RawURLEncoding.EncodeToString(b[:])
	h := sha256.Sum256([]byte(ticket))

	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.maybeSweep(now, len(t.entries) >= t.max)
	if len(t.entries) >= t.max {
		return "", time.Time{}, ErrTooManyTickets
	}
	expires = now.Add(t.ttl)
	t.entries[h] = &ticketEntry{route: route, path: path, expires: expires}
	return ticket, expires, nil
}

// Authenticate admits c when its value is a ticket issued for c.Route and
// c.Path, not yet used and not expired, and consumes the ticket. Of several concurrent
// presentations of one ticket exactly one can succeed. It returns
// ErrReplayed for a used ticket, ErrExpired for an expired one, and
// ErrInvalid for an unknown one or one issued for another route or path. A ticket
// comes only as ?ticket= or a ticket. subprotocol (FromTicket); from
// anywhere else it is ErrNoCredential, and is not consumed. A Peek
// credential is checked the same way, except that it neither consumes the
// ticket nor needs it unused.
func (t *Tickets) Authenticate(_ context.Context, c Credential) (Identity, error) {
	if c.Value == "" || c.Source != FromTicket {
		return Identity{}, ErrNoCredential
	}
	if len(c.Value) != ticketLen {
		// Not one of ours (a secret or a JWT, say); the length of a ticket
		// is public, so refusing early leaks nothing.
		return Identity{}, ErrInvalid
	}
	h := sha256.Sum256([]byte(c.Value))

	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.maybeSweep(now, false)
	e := t.entries[h]
	switch {
	case e == nil || t.forgotten(e, now):
		return Identity{}, ErrInvalid
	case e.used && !c.Peek:
		return Identity{}, ErrReplayed
	}
	if !c.Peek {
		e.used = true // consumed whatever happens next
	}
	switch {
	case !now.Before(e.expires):
		return Identity{}, ErrExpired
	case e.route != c.Route || e.path != c.Path:
		return Identity{}, ErrInvalid
	}
	return Identity{Provider: t.name}, nil
}

// maybeSweep forgets entries a TTL past their expiry. It runs at most once
// per TTL unless forced, so its cost is amortised over the calls in between.
// t.mu is held.
func (t *Tickets) maybeSweep(now time.Time, force bool) {
	if !force && now.Sub(t.lastSweep) < t.ttl {
		return
	}
	t.lastSweep = now
	for h, e := range t.entries {
		if t.forgotten(e, now) {
			delete(t.entries, h)
		}
	}
}

// forgotten reports whether e is a TTL past its expiry, so is treated as
// unknown whether or not a sweep has removed it yet.
func (t *Tickets) forgotten(e *ticketEntry, now time.Time) bool {
	return !now.Before(e.expires.Add(t.ttl))
}
