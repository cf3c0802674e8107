package main

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDeployBuild builds the binary deploy/Dockerfile ships with the same
// script (deploy/build.sh): static (no program interpreter, no dynamic
// section), and it runs: version prints, and healthcheck passes against a
// proxy and fails without one. The image itself needs a container runtime
// and is not built here.
func TestDeployBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	out := filepath.Join(t.TempDir(), "agentbridge")
	cmd := exec.Command("sh", "deploy/build.sh")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "OUT="+out, "VERSION=v0.0.0-test")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("deploy/build.sh: %v\n%s", err, b)
	}
	ef, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is not static: it has a %v segment", p.Type)
		}
	}
	ef.Close()
	v, err := exec.Command(out, "version").Output()
	if err != nil || !strings.HasPrefix(string(v), "agentbridge v0.0.0-test ") {
		t.Errorf("version: %q %v", v, err)
	}

	// healthcheck against a live proxy on the configuration's listener.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			fmt.Fprint(w, `{"status":"ok"}`)
			return
		}
		http.NotFound(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	write := func(listen string) {
		y := "version: 1\nlisten: " + listen + "\nbackends: {demo: {dialect: demo}}\nroutes:\n  - {path: /a, dialect: plain, auth: none, backend: demo}\n"
		if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	write("0.0.0.0:" + port)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	hc := exec.CommandContext(ctx, out, "healthcheck", "-config", cfg)
	hc.Stderr = &stderr
	if err := hc.Run(); err != nil {
		t.Errorf("healthcheck of a live /healthz: %v %s", err, stderr.String())
	}
	srv.Close()
	if err := exec.CommandContext(ctx, out, "healthcheck", "-config", cfg).Run(); err == nil {
		t.Error("healthcheck passed with nothing listening")
	}
}
