package main

import (
	"bytes"
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
`)
	if empty := read(in); empty != 4 {
		t.Errorf("read counted %d empty runs, want 4", empty)
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
