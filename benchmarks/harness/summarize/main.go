// Command summarize reads the JSON lines written by load and idle (one file,
// or stdin) and prints markdown: medians over repetitions per scenario and
// target, ratios against "direct" taken within each repetition and then
// medianed, and the agentbridge gates (met / missed) when the targets
// nginx, ab-pass and the translating routes (ab-trans, ab-connic,
// ab-connic-wiro, ab-wiro-connic, ab-agents) are present (and, for
// reference, the Go tunnel yardstick when go-tunnel is). The Agents SDK
// route (ab-agents) is also held to ab-connic: CPU per frame within +15 %,
// and its own allocations per frame.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
)

// rec is the union of load's and idle's JSON fields that are used here.
type rec struct {
	Kind, Scenario, Target                     string
	Rep                                        int
	FramesPerS, RTTP50Us, RTTP99Us, FirstP50Us float64
	FirstP99Us, FirstP999Us, JitterP99Us       float64
	IntervalUs                                 int64
	ProxyKiBPerConn                            *float64
	Errors, IDMismatches, WholeReplies         int64
	ProxyCPUUsPerFrame, AllocsPerFrame         *float64
	Conns                                      int
	KiBPerConnHandshake, KiBPerConnMessage     float64
	SlabKiBPerConn                             float64
}

var (
	recs      []rec
	scenarios []string
	targets   []string
)

func main() {
	flag.Parse()
	var in io.Reader = os.Stdin
	if flag.NArg() > 0 {
		f, err := os.Open(flag.Arg(0))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		defer f.Close()
		in = f
	}
	empty := read(in)
	loadTable()
	pacedTable()
	idleTable()
	gates()
	if empty > 0 {
		fmt.Fprintf(os.Stderr, "summarize: %d runs measured nothing (no frames or no connections); their cells are left out\n", empty)
		os.Exit(3)
	}
}

// read loads the records of in. A run that measured nothing (a load run
// with no frames, an idle run with no connections: its target was not
// reachable) is left out, so that no gate is called met on it, and counted.
func read(in io.Reader) (empty int) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r rec
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.Kind == "" {
			continue
		}
		if r.Kind == "load" && !(r.FramesPerS > 0) || r.Kind == "idle" && r.Conns <= 0 {
			empty++
			continue
		}
		recs = append(recs, r)
		if !slices.Contains(scenarios, r.Scenario) {
			scenarios = append(scenarios, r.Scenario)
		}
		if !slices.Contains(targets, r.Target) {
			targets = append(targets, r.Target)
		}
	}
	return empty
}

func cells(kind, scenario, target string) []rec {
	var out []rec
	for _, r := range recs {
		if r.Kind == kind && r.Scenario == scenario && r.Target == target {
			out = append(out, r)
		}
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// med is the median of f over the cell's repetitions (NaN when f is absent).
func med(rs []rec, f func(rec) (float64, bool)) float64 {
	var v []float64
	for _, r := range rs {
		if x, ok := f(r); ok {
			v = append(v, x)
		}
	}
	return median(v)
}

// vsDirect is the median over repetitions of g(r, direct in the same rep).
func vsDirect(scenario string, rs []rec, g func(r, d rec) float64) float64 {
	var v []float64
	for _, r := range rs {
		for _, d := range cells("load", scenario, "direct") {
			if d.Rep == r.Rep {
				v = append(v, g(r, d))
			}
		}
	}
	return median(v)
}

func num(x float64, prec int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "-"
	}
	s := fmt.Sprintf("%.*f", prec, x)
	if prec == 0 && math.Abs(x) >= 1000 {
		neg := strings.HasPrefix(s, "-")
		s = strings.TrimPrefix(s, "-")
		for i := len(s) - 3; i > 0; i -= 3 {
			s = s[:i] + "," + s[i:]
		}
		if neg {
			s = "-" + s
		}
	}
	return s
}

func fps(r rec) (float64, bool)   { return r.FramesPerS, true }
func p50(r rec) (float64, bool)   { return r.RTTP50Us, true }
func p99(r rec) (float64, bool)   { return r.RTTP99Us, true }
func first(r rec) (float64, bool) { return r.FirstP50Us, true }
func cpu(r rec) (float64, bool) {
	if r.ProxyCPUUsPerFrame == nil {
		return 0, false
	}
	return *r.ProxyCPUUsPerFrame, true
}
func allocs(r rec) (float64, bool) {
	if r.AllocsPerFrame == nil {
		return 0, false
	}
	return *r.AllocsPerFrame, true
}

func loadTable() {
	fmt.Println("| scenario | target | frames/s | ratio | p50 µs | p99 µs | p50 +µs | p99 ratio | first-frame p50 µs | CPU µs/frame | allocs/frame | errors | id mismatches |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, s := range scenarios {
		for _, t := range targets {
			rs := cells("load", s, t)
			if len(rs) == 0 {
				continue
			}
			var errs, mism, whole int64
			for _, r := range rs {
				errs += r.Errors
				mism += r.IDMismatches
				whole += r.WholeReplies
			}
			c := num(med(rs, cpu), 2)
			if t == "direct" && c != "-" {
				c = "(agent " + c + ")"
			}
			label := t
			if whole > 0 {
				label += " †"
			}
			fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %d |\n", s, label,
				num(med(rs, fps), 0),
				num(vsDirect(s, rs, func(r, d rec) float64 { return r.FramesPerS / d.FramesPerS }), 2),
				num(med(rs, p50), 0), num(med(rs, p99), 0),
				num(vsDirect(s, rs, func(r, d rec) float64 { return r.RTTP50Us - d.RTTP50Us }), 0),
				num(vsDirect(s, rs, func(r, d rec) float64 { return r.RTTP99Us / d.RTTP99Us }), 2),
				num(med(rs, first), 0), c, num(med(rs, allocs), 4), errs, mism)
		}
	}
	fmt.Println()
	fmt.Println("Medians of the repetitions; ratio and p50 +µs are against direct in the same repetition. CPU µs/frame is the watched process's utime+stime (/proc/PID/stat) per frame the backend emitted (k chunks + end); for direct it is the agent itself. allocs/frame: - = the target exposes no counter. † = Connic replies arrived as one `response` frame, not streamed (see notes).")
	fmt.Println()
}

// pacedTable is the time-to-first-frame view of the paced scenarios (chunks
// spaced by -interval: stream64-paced, the slow-stream ones): first-frame
// latency and inter-frame jitter added to direct's in the same repetition,
// CPU per frame beside nginx's in the same repetition, and the proxy's RSS
// growth per connection while streaming. Then the issue-17 gates: added
// first-frame latency ≤ nginx's at p50 and p99, for every agentbridge route.
func pacedTable() {
	var paced []string
	for _, s := range scenarios {
		for _, r := range recs {
			if r.Kind == "load" && r.Scenario == s && r.IntervalUs > 0 {
				paced = append(paced, s)
				break
			}
		}
	}
	if len(paced) == 0 {
		return
	}
	added := func(s string, rs []rec, f func(rec) float64) float64 {
		return vsDirect(s, rs, func(r, d rec) float64 { return f(r) - f(d) })
	}
	vsNginx := func(s string, rs []rec) float64 {
		var v []float64
		for _, r := range rs {
			for _, n := range cells("load", s, "nginx") {
				if n.Rep == r.Rep && r.ProxyCPUUsPerFrame != nil && n.ProxyCPUUsPerFrame != nil {
					v = append(v, *r.ProxyCPUUsPerFrame / *n.ProxyCPUUsPerFrame)
				}
			}
		}
		return median(v)
	}
	f50 := func(r rec) float64 { return r.FirstP50Us }
	f99 := func(r rec) float64 { return r.FirstP99Us }
	f999 := func(r rec) float64 { return r.FirstP999Us }
	j99 := func(r rec) float64 { return r.JitterP99Us }
	fmt.Println("| paced scenario | target | conns | frames/s | first-frame p50 µs | added p50 | added p99 | added p99.9 | jitter p99 µs | added jitter p99 | CPU µs/frame | CPU × nginx | KiB/conn streaming | errors |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, s := range paced {
		for _, t := range targets {
			rs := cells("load", s, t)
			if len(rs) == 0 {
				continue
			}
			var errs int64
			conns := 0
			for _, r := range rs {
				errs += r.Errors + r.IDMismatches
				conns = r.Conns
			}
			c := num(med(rs, cpu), 2)
			if t == "direct" && c != "-" {
				c = "(agent " + c + ")"
			}
			kib := med(rs, func(r rec) (float64, bool) {
				if r.ProxyKiBPerConn == nil {
					return 0, false
				}
				return *r.ProxyKiBPerConn, true
			})
			fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", s, t, num(float64(conns), 0),
				num(med(rs, fps), 0), num(med(rs, first), 0),
				num(added(s, rs, f50), 0), num(added(s, rs, f99), 0), num(added(s, rs, f999), 0),
				num(med(rs, func(r rec) (float64, bool) { return r.JitterP99Us, true }), 0), num(added(s, rs, j99), 0),
				c, num(vsNginx(s, rs), 2), num(kib, 1), errs)
		}
	}
	fmt.Println()
	fmt.Println("Medians of the repetitions. added: the target's figure minus direct's in the same repetition (µs). Jitter: |arrival gap − interval| between consecutive chunks of a reply. CPU × nginx: the ratio to nginx's CPU per frame in the same repetition. KiB/conn streaming: the watched processes' RSS growth from before the connections to the end of the window, per connection (for direct: the agent's); errors include id mismatches.")
	fmt.Println()
	if len(cells("load", paced[0], "nginx")) == 0 {
		return
	}
	fmt.Println("| gate (issue 17) | scenario | target | added first-frame p50 / p99 µs | nginx | verdict |")
	fmt.Println("|---|---|---|---:|---:|---|")
	for _, s := range paced {
		n := cells("load", s, "nginx")
		n50, n99 := added(s, n, f50), added(s, n, f99)
		for _, t := range targets {
			if !strings.HasPrefix(t, "ab-") {
				continue
			}
			rs := cells("load", s, t)
			if len(rs) == 0 {
				continue
			}
			a50, a99 := added(s, rs, f50), added(s, rs, f99)
			fmt.Printf("| added first-frame ≤ nginx at p50 and p99 | %s | %s | +%s / +%s | +%s / +%s | %s |\n", s, t,
				num(a50, 0), num(a99, 0), num(n50, 0), num(n99, 0), verdict(a50 <= n50 && a99 <= n99, a50+a99+n50+n99))
		}
	}
	fmt.Println()
}

func idleTable() {
	var any bool
	for _, r := range recs {
		any = any || r.Kind == "idle"
	}
	if !any {
		return
	}
	fmt.Println("| idle target | conns | KiB/conn after handshake | KiB/conn after one message | kernel Slab KiB/conn (system-wide) | errors |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	for _, t := range targets {
		rs := cells("idle", "idle", t)
		if len(rs) == 0 {
			continue
		}
		var errs int64
		for _, r := range rs {
			errs += int64(r.Errors)
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %d |\n", t,
			num(med(rs, func(r rec) (float64, bool) { return float64(r.Conns), true }), 0),
			num(med(rs, func(r rec) (float64, bool) { return r.KiBPerConnHandshake, true }), 1),
			num(med(rs, func(r rec) (float64, bool) { return r.KiBPerConnMessage, true }), 1),
			num(med(rs, func(r rec) (float64, bool) { return r.SlabKiBPerConn, true }), 1), errs)
	}
	fmt.Println()
}

func verdict(ok bool, x float64) string {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return "not measured"
	case ok:
		return "met"
	}
	return "**missed**"
}

func gates() {
	if len(cells("load", "stream64", "ab-pass")) == 0 {
		return
	}
	ratio := func(s, t string) float64 {
		return vsDirect(s, cells("load", s, t), func(r, d rec) float64 { return r.FramesPerS / d.FramesPerS })
	}
	cpuOf := func(s, t string) float64 { return med(cells("load", s, t), cpu) }
	fmt.Println("| gate | scenario | measured | reference | verdict |")
	fmt.Println("|---|---|---:|---:|---|")
	for _, s := range []string{"stream64", "stream1k", "stream64-pipe"} {
		a, n := ratio(s, "ab-pass"), ratio(s, "nginx")
		fmt.Printf("| passthrough frames/s ratio ≥ nginx (perf.md: ≥ nginx − 0.03) | %s | %s | nginx %s | %s (−0.03 tolerance: %s) |\n",
			s, num(a, 2), num(n, 2), verdict(a >= n, a-n), verdict(a >= n-0.03, a-n))
	}
	for _, s := range []string{"stream64", "stream1k"} {
		a, n := cpuOf(s, "ab-pass"), cpuOf(s, "nginx")
		fmt.Printf("| proxy CPU/frame ≤ 1.0× nginx, saturated | %s | %s µs (%s×) | nginx %s µs | %s |\n", s, num(a, 2), num(a/n, 2), num(n, 2), verdict(a <= n, a/n))
	}
	a, n := cpuOf("stream64-paced", "ab-pass"), cpuOf("stream64-paced", "nginx")
	fmt.Printf("| proxy CPU/frame ≤ 1.3× nginx, paced | stream64-paced | %s µs (%s×) | nginx %s µs | %s |\n", num(a, 2), num(a/n, 2), num(n, 2), verdict(a <= 1.3*n, a/n))
	// The Go yardstick: what a bare byte tunnel on goroutines costs beside
	// nginx in the same run (no gate; it explains the CPU rows).
	for _, s := range []string{"stream64", "stream1k", "stream64-paced"} {
		g, n := cpuOf(s, "go-tunnel"), cpuOf(s, "nginx")
		if math.IsNaN(g) {
			continue
		}
		fmt.Printf("| (yardstick, no gate) bare Go tunnel CPU/frame | %s | %s µs (%s× nginx) | ab-pass %s µs (%s×) | - |\n",
			s, num(g, 2), num(g/n, 2), num(cpuOf(s, "ab-pass"), 2), num(cpuOf(s, "ab-pass")/n, 2))
	}
	// The Wiro routes carry accumulated text on their Wiro leg: each of its
	// frames holds the whole reply so far, O(k²) bytes a reply.
	for _, t := range []string{"ab-trans", "ab-connic", "ab-connic-wiro", "ab-wiro-connic", "ab-agents"} {
		for _, s := range []string{"stream64", "stream1k", "stream64-pipe"} {
			x, p := cpuOf(s, t), cpuOf(s, "ab-pass")
			if math.IsNaN(x) {
				continue
			}
			v := verdict(x <= 1.15*p, x/p)
			for _, r := range cells("load", s, t) {
				if r.WholeReplies > 0 {
					v = "not comparable: replies were not streamed (†)"
				}
			}
			fmt.Printf("| translation CPU/frame ≤ +15%% over passthrough (%s) | %s | %s µs (%+.0f%%) | ab-pass %s µs | %s |\n", t, s, num(x, 2), 100*(x/p-1), num(p, 2), v)
		}
	}
	// The Agents SDK chat route beside the Connic one, both on the plain
	// chunked backend: the "+15 % CPU per frame of Connic→plain".
	if len(cells("load", "stream64", "ab-agents")) > 0 {
		for _, s := range []string{"stream64", "stream1k", "stream64-pipe"} {
			x, c := cpuOf(s, "ab-agents"), cpuOf(s, "ab-connic")
			if math.IsNaN(x) && math.IsNaN(c) {
				continue
			}
			fmt.Printf("| agents CPU/frame ≤ 1.15× ab-connic | %s | %s µs (%s×) | ab-connic %s µs | %s |\n", s, num(x, 2), num(x/c, 2), num(c, 2), verdict(x <= 1.15*c, x/c))
		}
	}
	al := med(cells("load", "stream64", "ab-pass"), allocs)
	fmt.Printf("| ≤ 0.01 allocs/relayed frame | stream64 | %s | | %s |\n", num(al, 4), verdict(al <= 0.01, al))
	if len(cells("load", "stream64", "ab-agents")) > 0 {
		for _, s := range []string{"stream64", "stream1k"} {
			al := med(cells("load", s, "ab-agents"), allocs)
			fmt.Printf("| ≤ 0.01 allocs/frame, agents text-delta stream (ab-agents) | %s | %s | | %s |\n", s, num(al, 4), verdict(al <= 0.01, al))
		}
	}
	idle := []string{"ab-pass", "ab-connic"}
	if len(cells("idle", "idle", "ab-agents")) > 0 {
		idle = append(idle, "ab-agents")
	}
	for _, t := range idle {
		rs := cells("idle", "idle", t)
		h := med(rs, func(r rec) (float64, bool) { return r.KiBPerConnHandshake, true })
		m := med(rs, func(r rec) (float64, bool) { return r.KiBPerConnMessage, true })
		ng := med(cells("idle", "idle", "nginx"), func(r rec) (float64, bool) { return r.KiBPerConnMessage, true })
		fmt.Printf("| idle ≤ 13 KiB/conn (%s) | idle | %s after handshake / %s after a message | nginx %s | %s |\n", t, num(h, 1), num(m, 1), num(ng, 1), verdict(h <= 13 && m <= 13, math.Max(h, m)))
	}
	rs := cells("load", "echo-c1", "ab-pass")
	add := vsDirect("echo-c1", rs, func(r, d rec) float64 { return r.RTTP50Us - d.RTTP50Us })
	nadd := vsDirect("echo-c1", cells("load", "echo-c1", "nginx"), func(r, d rec) float64 { return r.RTTP50Us - d.RTTP50Us })
	fmt.Printf("| added unloaded p50 ≤ 80 µs | echo-c1 | +%s µs | nginx +%s µs | %s |\n", num(add, 0), num(nadd, 0), verdict(add <= 80, add))
	var errs, mism int64
	seen := math.NaN() // stays NaN when no agentbridge run was measured
	for _, r := range recs {
		if strings.HasPrefix(r.Target, "ab-") {
			errs += r.Errors
			mism += r.IDMismatches
			seen = 0
		}
	}
	fmt.Printf("| zero errors and id mismatches (agentbridge, all cells) | all | %d errors, %d mismatches | | %s |\n", errs, mism, verdict(errs == 0 && mism == 0, seen))
	fmt.Println()
}
