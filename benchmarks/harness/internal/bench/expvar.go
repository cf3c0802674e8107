package bench

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// expvarClient opens a new connection for every read, so each read costs
// the target the same (a first read on a fresh keep-alive connection would
// cost more than later ones).
var expvarClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// Mallocs reads memstats.Mallocs from a Go expvar endpoint (agentbridge's
// /debug/vars with debug: {expvar: true}). It refuses any answer that does
// not carry the figure: a missing counter is not a process that allocated
// nothing.
func Mallocs(u string) (float64, error) {
	resp, err := expvarClient.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("expvar %s: HTTP %d", u, resp.StatusCode)
	}
	var v struct{ Memstats *struct{ Mallocs float64 } }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return 0, err
	}
	if v.Memstats == nil || v.Memstats.Mallocs == 0 {
		return 0, fmt.Errorf("expvar %s: no memstats.Mallocs", u)
	}
	return v.Memstats.Mallocs, nil
}

// MallocCounter counts a target's allocations between its start and Since,
// less what reading the counter costs the target: the expvar handler
// renders every variable after taking its snapshot, so one read's own
// allocations land in the next read's figure. That cost is measured by two
// reads in a row at the start.
type MallocCounter struct {
	url            string
	start, perRead float64
}

// StartMallocs starts counting the allocations of the target at u.
func StartMallocs(u string) (*MallocCounter, error) {
	m1, err := Mallocs(u)
	if err != nil {
		return nil, err
	}
	m2, err := Mallocs(u)
	if err != nil {
		return nil, err
	}
	return &MallocCounter{url: u, start: m2, perRead: max(m2-m1, 0)}, nil
}

// Since returns the allocations since StartMallocs, the reads' own
// excluded (never below zero).
func (c *MallocCounter) Since() (float64, error) {
	m, err := Mallocs(c.url)
	if err != nil {
		return 0, err
	}
	return max(m-c.start-c.perRead, 0), nil
}
