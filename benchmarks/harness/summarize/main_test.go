package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

// TestNoGateMetOnEmptyRuns: runs that measured nothing (the targets'
// ports were taken, say) are left out and counted, and the gates they
// feed say "not measured", never "met".
func TestNoGateMetOnEmptyRuns(t *testing.T) {
	recs, scenarios, targets = nil, nil, nil
	in := strings.NewReader(`{"Kind":"load","Scenario":"stream64","Target":"direct","Rep":1}
{"Kind":"load","Scenario":"stream64","Target":"nginx","Rep":1}
{"Kind":"load","Scenario":"stream64","Target":"ab-pass","Rep":1,"AllocsPerFrame":0}
{"Kind":"idle","Scenario":"idle","Target":"ab-pass","Rep":1}
{"Kind":"load","Scenario":"stream64","Target":"ab-connic","Rep":1,"ProxyCPUUsPerFrame":1}
{"Kind":"load","Scenario":"stream64","Target":"ab-agents","Rep":1,"ProxyCPUUsPerFrame":1,"AllocsPerFrame":0}
`)
	if empty := read(in); empty != 6 {
		t.Errorf("read counted %d empty runs, want 6", empty)
	}
	out := captureStdout(t, gates)
	if strings.Contains(out, "| met") {
		t.Errorf("a gate was met on empty measurements:\n%s", out)
	}

	// With one real run, gates are decided, and its error count shows.
	recs, scenarios, targets = nil, nil, nil
	read(strings.NewReader(`{"Kind":"load","Scenario":"stream64","Target":"ab-pass","Rep":1,"FramesPerS":1000,"Errors":2}` + "\n"))
	out = captureStdout(t, gates)
	if !strings.Contains(out, "2 errors, 0 mismatches | | **missed**") {
		t.Errorf("the error gate did not report the run's errors:\n%s", out)
	}

	// The agents route is held to ab-connic's CPU per frame (+15 %) and to
	// 0.01 allocations per frame; without ab-connic that gate is not
	// measured.
	recs, scenarios, targets = nil, nil, nil
	read(strings.NewReader(`{"Kind":"load","Scenario":"stream64","Target":"ab-pass","Rep":1,"FramesPerS":1000,"ProxyCPUUsPerFrame":1}
{"Kind":"load","Scenario":"stream64","Target":"ab-agents","Rep":1,"FramesPerS":1000,"ProxyCPUUsPerFrame":1.2,"AllocsPerFrame":0.002}
{"Kind":"load","Scenario":"stream1k","Target":"ab-agents","Rep":1,"FramesPerS":1000,"ProxyCPUUsPerFrame":1.2,"AllocsPerFrame":0.02}
`))
	out = captureStdout(t, gates)
	for _, want := range []string{
		"| agents CPU/frame ≤ 1.15× ab-connic | stream64 | 1.20 µs (-×) | ab-connic - µs | not measured |",
		"| ≤ 0.01 allocs/frame, agents text-delta stream (ab-agents) | stream64 | 0.0020 | | met |",
		"| ≤ 0.01 allocs/frame, agents text-delta stream (ab-agents) | stream1k | 0.0200 | | **missed** |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	for _, tc := range []struct {
		connic float64
		want   string
	}{{1.1, "1.09×) | ab-connic 1.10 µs | met |"}, {1.0, "1.20×) | ab-connic 1.00 µs | **missed** |"}} {
		recs, scenarios, targets = nil, nil, nil
		read(strings.NewReader(fmt.Sprintf(`{"Kind":"load","Scenario":"stream64","Target":"ab-pass","Rep":1,"FramesPerS":1000,"ProxyCPUUsPerFrame":1}
{"Kind":"load","Scenario":"stream64","Target":"ab-connic","Rep":1,"FramesPerS":1000,"ProxyCPUUsPerFrame":%g}
{"Kind":"load","Scenario":"stream64","Target":"ab-agents","Rep":1,"FramesPerS":1000,"ProxyCPUUsPerFrame":1.2}
`, tc.connic)))
		out = captureStdout(t, gates)
		if !strings.Contains(out, "| agents CPU/frame ≤ 1.15× ab-connic | stream64 | 1.20 µs ("+tc.want) {
			t.Errorf("ab-connic at %g µs: want %q in:\n%s", tc.connic, tc.want, out)
		}
	}
}

func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	f()
	os.Stdout = old
	w.Close()
	var b bytes.Buffer
	_, _ = io.Copy(&b, r)
	return b.String()
}
