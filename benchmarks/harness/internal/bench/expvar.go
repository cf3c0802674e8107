package bench

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Mallocs reads memstats.Mallocs from a Go expvar endpoint (agentbridge's
// /debug/vars with debug: {expvar: true}). It refuses any answer that does
// not carry the figure: a missing counter is not a process that allocated
// nothing.
func Mallocs(u string) (float64, error) {
	resp, err := http.Get(u)
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
