package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newTestTickets(t *testing.T, clk *fakeClock) *Tickets {
	t.Helper()
	tk, err := NewTickets(TicketsConfig{Name: "browser", TTL: 30 * time.Second, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func issue(t *testing.T, tk *Tickets, route string) string {
	t.Helper()
	v, _, err := tk.Issue(route, "/"+route)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestTicketFormat(t *testing.T) {
	clk := newFakeClock()
	tk := newTestTickets(t, clk)
	v, exp, err := tk.Issue("chat", "/chat")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		t.Fatalf("ticket is not URL-safe base64: %v", err)
	}
	if len(raw)*8 < 128 {
		t.Errorf("ticket has %d bits, want >= 128", len(raw)*8)
	}
	if want := clk.Now().Add(30 * time.Second); !exp.Equal(want) {
		t.Errorf("expires = %v, want %v", exp, want)
	}
	if v2 := issue(t, tk, "chat"); v2 == v {
		t.Error("two tickets are equal")
	}
	for h, e := range tk.entries {
		if strings.Contains(string(h[:]), v) || strings.Contains(e.route, v) {
			t.Error("the raw ticket is stored")
		}
	}
}

// TestTicketPitfalls has one case per pitfall of reliability.md 3.3.
func TestTicketPitfalls(t *testing.T) {
	tests := []struct {
		name string
		// use presents the ticket (issued for route "chat") as the pitfall
		// does and returns the error of the presentation under test.
		use  func(tk *Tickets, clk *fakeClock, ticket string) error
		want error
	}{
		{"fresh ticket on its route", func(tk *Tickets, _ *fakeClock, v string) error {
			return authTicket(tk, v, "chat")
		}, nil},
		{"reuse", func(tk *Tickets, _ *fakeClock, v string) error {
			authTicket(tk, v, "chat")
			return authTicket(tk, v, "chat")
		}, ErrReplayed},
		{"expired", func(tk *Tickets, clk *fakeClock, v string) error {
			clk.Advance(30 * time.Second)
			return authTicket(tk, v, "chat")
		}, ErrExpired},
		{"just before expiry", func(tk *Tickets, clk *fakeClock, v string) error {
			clk.Advance(30*time.Second - time.Nanosecond)
			return authTicket(tk, v, "chat")
		}, nil},
		{"other route", func(tk *Tickets, _ *fakeClock, v string) error {
			return authTicket(tk, v, "admin")
		}, ErrInvalid},
		{"other route burns the ticket", func(tk *Tickets, _ *fakeClock, v string) error {
			authTicket(tk, v, "admin")
			return authTicket(tk, v, "chat")
		}, ErrReplayed},
		{"other path of the route", func(tk *Tickets, _ *fakeClock, v string) error {
			return authTicketAt(tk, v, "chat", "/chat/other")
		}, ErrInvalid},
		{"other path burns the ticket", func(tk *Tickets, _ *fakeClock, v string) error {
			authTicketAt(tk, v, "chat", "/chat/other")
			return authTicket(tk, v, "chat")
		}, ErrReplayed},
		{"unknown ticket", func(tk *Tickets, _ *fakeClock, v string) error {
			return authTicket(tk, strings.Repeat("A", len(v)), "chat")
		}, ErrInvalid},
		{"ticket presented with a changed character", func(tk *Tickets, _ *fakeClock, v string) error {
			b := []byte(v)
			b[0] ^= 1
			return authTicket(tk, string(b), "chat")
		}, ErrInvalid},
		{"secret presented as ticket", func(tk *Tickets, _ *fakeClock, _ string) error {
			return authTicket(tk, "current-secret", "chat")
		}, ErrInvalid},
		{"JWT presented as ticket", func(tk *Tickets, _ *fakeClock, _ string) error {
			return authTicket(tk, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "chat")
		}, ErrInvalid},
		{"missing", func(tk *Tickets, _ *fakeClock, _ string) error {
			return authTicket(tk, "", "chat")
		}, ErrNoCredential},
		{"swept after expiry", func(tk *Tickets, clk *fakeClock, v string) error {
			clk.Advance(61 * time.Second)
			return authTicket(tk, v, "chat")
		}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			tk := newTestTickets(t, clk)
			v := issue(t, tk, "chat")
			if err := tt.use(tk, clk, v); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// authTicket presents v for route at the path tickets are issued for in
// these tests, "/" + route.
func authTicket(tk *Tickets, v, route string) error {
	return authTicketAt(tk, v, route, "/"+route)
}

func authTicketAt(tk *Tickets, v, route, path string) error {
	id, err := tk.Authenticate(context.Background(), Credential{Value: v, Source: FromTicket, Route: route, Path: path})
	if err == nil && id.Provider != "browser" {
		return errors.New("wrong provider " + id.Provider)
	}
	return err
}

func TestTicketConcurrentUseOnce(t *testing.T) {
	tk := newTestTickets(t, newFakeClock())
	v := issue(t, tk, "chat")
	var ok, replayed atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 100 {
		wg.Go(func() {
			<-start
			switch err := authTicket(tk, v, "chat"); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, ErrReplayed):
				replayed.Add(1)
			default:
				t.Errorf("unexpected error %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 || replayed.Load() != 99 {
		t.Fatalf("successes = %d, replays = %d, want 1 and 99", ok.Load(), replayed.Load())
	}
}

func TestTicketSweepShrinksMap(t *testing.T) {
	clk := newFakeClock()
	tk := newTestTickets(t, clk)
	for range 1000 {
		issue(t, tk, "chat")
	}
	if n := len(tk.entries); n != 1000 {
		t.Fatalf("entries = %d, want 1000", n)
	}
	clk.Advance(60 * time.Second) // expiry plus the grace TTL
	keep := issue(t, tk, "chat")  // triggers the sweep
	if n := len(tk.entries); n != 1 {
		t.Fatalf("entries after sweep = %d, want 1", n)
	}
	if err := authTicket(tk, keep, "chat"); err != nil {
		t.Fatalf("the ticket issued after the sweep: %v", err)
	}
}

func TestTicketMaxOutstanding(t *testing.T) {
	clk := newFakeClock()
	tk, err := NewTickets(TicketsConfig{Name: "browser", TTL: time.Second, Now: clk.Now, MaxOutstanding: 3})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		issue(t, tk, "chat")
	}
	if _, _, err := tk.Issue("chat", "/chat"); !errors.Is(err, ErrTooManyTickets) {
		t.Fatalf("4th Issue: err = %v, want ErrTooManyTickets", err)
	}
	clk.Advance(2 * time.Second)
	if _, _, err := tk.Issue("chat", "/chat"); err != nil {
		t.Fatalf("Issue once the old tickets expired: %v", err)
	}
}

func TestNewTicketsConfig(t *testing.T) {
	tk, err := NewTickets(TicketsConfig{Name: "d"})
	if err != nil {
		t.Fatal(err)
	}
	if tk.ttl != 30*time.Second || tk.max != 100000 || tk.now == nil {
		t.Errorf("defaults: ttl %v, max %d", tk.ttl, tk.max)
	}
	for _, cfg := range []TicketsConfig{{TTL: -1}, {MaxOutstanding: -1}} {
		if _, err := NewTickets(cfg); err == nil {
			t.Errorf("NewTickets(%+v) accepted", cfg)
		}
	}
	if _, _, err := tk.Issue("", "/chat"); err == nil {
		t.Error("Issue for an empty route succeeded")
	}
	if _, _, err := tk.Issue("chat", ""); err == nil {
		t.Error("Issue for an empty path succeeded")
	}
}

func ExampleTickets() {
	tickets, err := NewTickets(TicketsConfig{Name: "browser", TTL: 30 * time.Second})
	if err != nil {
		panic(err)
	}
	// POST /auth/tickets, authenticated by another provider, issues one.
	ticket, _, err := tickets.Issue("chat", "/chat")
	if err != nil {
		panic(err)
	}
	// The client connects with ?ticket=..., once.
	c := Credential{Value: ticket, Source: FromTicket, Route: "chat", Path: "/chat"}
	id, err := tickets.Authenticate(context.Background(), c)
	fmt.Println(id.Provider, err)
	_, err = tickets.Authenticate(context.Background(), c)
	fmt.Println(err)
	// Output:
	// browser <nil>
	// auth: credential already used
}

// TestTicketPeek: a Peek credential (a read beside the socket, such as
// get-messages) is checked like any other but neither needs the ticket
// unused nor uses it up.
func TestTicketPeek(t *testing.T) {
	clk := newFakeClock()
	tk := newTestTickets(t, clk)
	v := issue(t, tk, "chat")
	peek := func(route, path string) error {
		_, err := tk.Authenticate(context.Background(), Credential{Value: v, Source: FromTicket, Route: route, Path: path, Peek: true})
		return err
	}
	if err := peek("chat", "/chat"); err != nil {
		t.Fatalf("peek before use: %v", err)
	}
	if err := peek("chat", "/other"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("peek on another path: %v, want ErrInvalid", err)
	}
	if err := authTicket(tk, v, "chat"); err != nil {
		t.Fatalf("use after peeks: %v", err)
	}
	if err := peek("chat", "/chat"); err != nil {
		t.Fatalf("peek after use: %v", err)
	}
	if err := authTicket(tk, v, "chat"); !errors.Is(err, ErrReplayed) {
		t.Fatalf("second use: %v, want ErrReplayed", err)
	}
	clk.Advance(time.Hour)
	if err := peek("chat", "/chat"); err == nil {
		t.Fatal("peek after expiry admitted")
	}
}
