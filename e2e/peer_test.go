package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readyPeer describes a peer process the suite starts: a program that
// listens on a free port of 127.0.0.1, prints "READY http://127.0.0.1:PORT/"
// and serves until its standard input closes.
type readyPeer struct {
	name     string        // for messages
	start    time.Duration // how long it may take to print READY
	exit     time.Duration // how long it may take to exit once its stdin closed
	mustExit bool          // a late exit fails the test (else the peer is just killed)
}

// run starts cmd as p and returns "127.0.0.1:PORT" once it serves. At the
// end of the test its stdin is closed, it is killed if it has not exited
// within p.exit (its whole process group, when cmd makes one), and its
// output is logged if the test failed.
func (p readyPeer) run(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	out := &lockedBuffer{}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(out, line)
			if u, ok := strings.CutPrefix(line, "READY "); ok {
				select {
				case ready <- u:
				default:
				}
			}
		}
		_, _ = io.Copy(out, stdout)
	}()
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	group := cmd.SysProcAttr != nil && cmd.SysProcAttr.Setpgid
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-done:
		case <-time.After(p.exit):
			if p.mustExit {
				t.Errorf("%s did not exit within %v of its stdin closing", p.name, p.exit)
			}
			_ = cmd.Process.Kill()
		}
		if group {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // its children too, whatever happened
		}
		<-done
		if t.Failed() {
			t.Logf("%s output (exit: %v):\n%s", p.name, waitErr, out.String())
		}
	})
	select {
	case u := <-ready:
		m := regexp.MustCompile(`^http://(127\.0\.0\.1:\d+)/$`).FindStringSubmatch(u)
		if m == nil {
			t.Fatalf("%s: READY %q, want http://127.0.0.1:PORT/\n%s", p.name, u, out.String())
		}
		return m[1]
	case <-done:
		t.Fatalf("%s exited before READY (%v):\n%s", p.name, waitErr, out.String())
	case <-time.After(p.start):
		t.Fatalf("%s: no READY within %v:\n%s", p.name, p.start, out.String())
	}
	return ""
}
