// Command agentbridge runs the protocol-translating WebSocket proxy.
//
//	agentbridge [serve] [-config f] [-pidfile p]  run the proxy (the default)
//	agentbridge validate [-config f]              check a configuration; exit 0 or 1
//	agentbridge reload [-config f] -pidfile p     validate f, then ask the running proxy to reload
//	agentbridge healthcheck [-config f]           exit 0 when the running proxy's /healthz answers 200
//	agentbridge version                           print the version and build
//	agentbridge help                              list the commands
//
// The configuration path defaults to $AGENTBRIDGE_CONFIG, then config.yaml.
// Exit codes: 0 ok, 1 configuration or runtime error, 2 usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/agentbridge/agentbridge/config"
	"github.com/agentbridge/agentbridge/proxy"
)

// version, when set at build time with -ldflags "-X main.version=...",
// overrides the module version the Go toolchain records (buildVersion).
var version string

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	if len(args) > 0 && cmd == "serve" && isHelpFlag(args[0]) {
		cmd = "help" // `agentbridge -h` lists the commands, not serve's flags alone
	}
	switch cmd {
	case "serve", "validate", "reload", "healthcheck":
	case "version":
		fmt.Fprintf(stdout, "agentbridge %s (%s, dialects: %s)\n", buildVersion(), runtime.Version(), dialectNames(dialects))
		return 0
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "agentbridge: unknown command %q\n", cmd)
		usage(stderr)
		return 2
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		usage(stderr)
		fmt.Fprintf(stderr, "\nflags of %s:\n", cmd)
		fs.PrintDefaults()
	}
	path := fs.String("config", defaultConfigPath(), "configuration file")
	pidfile := ""
	if cmd == "serve" || cmd == "reload" {
		fs.StringVar(&pidfile, "pidfile", "", "file holding the process id of the running proxy (serve writes it, reload reads it)")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "agentbridge %s: unexpected argument %q\n", cmd, fs.Arg(0))
		return 2
	}
	f, err := config.Load(*path, dialects)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	logger := newLogger(f.Log, stderr)
	for _, w := range f.Warnings {
		logger.Warn("configuration: " + w.String())
	}
	pcfg, b, err := buildReusing(f, dialects, logger, nil)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", *path, err)
		return 1
	}
	switch cmd {
	case "validate":
		fmt.Fprintf(stdout, "%s: ok (%d routes, %d backends)\n", *path, len(f.Routes), len(f.Backends))
		return 0
	case "healthcheck":
		if err := healthcheck(f); err != nil {
			fmt.Fprintf(stderr, "agentbridge healthcheck: %v\n", err)
			return 1
		}
		return 0
	case "reload":
		if err := signalReload(pidfile); err != nil {
			fmt.Fprintf(stderr, "agentbridge reload: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: ok; reload signalled\n", *path)
		return 0
	}
	return serve(ctx, *path, f, pcfg, b, logger, pidfile)
}

// signalReload sends SIGHUP to the process whose id pidfile holds, as
// `nginx -s reload` does: the proxy reloads its own -config file.
func signalReload(pidfile string) error {
	if pidfile == "" {
		return errors.New("-pidfile is required: the file `agentbridge serve -pidfile` wrote (or send SIGHUP to the process yourself)")
	}
	b, err := os.ReadFile(pidfile)
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return fmt.Errorf("%s: not a process id: %q", pidfile, strings.TrimSpace(string(b)))
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	if err := p.Signal(syscall.SIGHUP); err != nil {
		return fmt.Errorf("process %d (from %s): %w", pid, pidfile, err)
	}
	return nil
}

func isHelpFlag(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: agentbridge <command> [flags]

commands:
  serve     run the proxy (the default command)     [-config f] [-pidfile p]
  validate  check a configuration; exit 0 or 1      [-config f]
  reload    validate a configuration, then signal   [-config f] -pidfile p
            the running proxy (SIGHUP) to load it
  healthcheck  GET /healthz on the configured listener;  [-config f]
            exit 0 when it answers 200 (a container's HEALTHCHECK)
  version   print the version, VCS revision and dialects
  help      print this list

The configuration defaults to $AGENTBRIDGE_CONFIG, then config.yaml.
Signals: SIGHUP reloads the configuration; SIGINT or SIGTERM drains and stops.
`)
}

// buildVersion returns the version set with -ldflags, else the module
// version and VCS revision the Go toolchain recorded in the binary:
// "v1.2.3", or "(devel) rev 0123abcd 2026-11-27T15:09:00Z dirty" for a build
// from a checkout.
func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return versionOf(bi)
}

// versionOf formats what bi says of the main module and its VCS checkout.
// The toolchain stamps the revision only when it builds inside a git
// checkout whose .git is a directory, without -buildvcs=false.
func versionOf(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = " dirty"
			}
		}
	}
	if rev == "" {
		return v + " no-vcs-info"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return v + " rev " + rev + " " + at + dirty
}

func defaultConfigPath() string {
	if p := os.Getenv("AGENTBRIDGE_CONFIG"); p != "" {
		return p
	}
	return "config.yaml"
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs the proxy until SIGINT or SIGTERM, then shuts down gracefully.
// The port is bound before "listening" is logged, and the log line comes
// before the first connection is served.
func serve(ctx context.Context, path string, f *config.File, pcfg proxy.Config, b *built, logger *slog.Logger, pidfile string) int {
	srv, err := proxy.New(pcfg)
	if err != nil {
		logger.Error("cannot start", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP reloads the configuration (reload).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	ln, err := net.Listen("tcp", f.Listen)
	if err != nil {
		logger.Error("cannot listen", "addr", f.Listen, "err", err)
		return 1
	}
	if f.Admin.Listen != "" {
		aln, err := net.Listen("tcp", f.Admin.Listen)
		if err != nil {
			ln.Close()
			logger.Error("cannot listen", "admin", f.Admin.Listen, "err", err)
			return 1
		}
		logger.Info("admin listening", "addr", aln.Addr().String(), "metrics", "/metrics", "auth", len(f.Admin.Auth) > 0)
		go func() {
			if err := srv.ServeAdmin(aln); err != nil {
				logger.Error("admin listener stopped", "err", err)
			}
		}()
	}
	if pidfile != "" {
		if err := os.WriteFile(pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			ln.Close()
			logger.Error("cannot write the pid file", "path", pidfile, "err", err)
			return 1
		}
		defer os.Remove(pidfile)
	}
	names := make([]string, 0, len(f.Routes))
	for _, r := range f.Routes {
		names = append(names, r.Path)
	}
	logger.Info("agentbridge listening", "addr", ln.Addr().String(), "tls", f.TLS != nil, "version", buildVersion(), "routes", names)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	for {
		select {
		case err := <-errc:
			logger.Error("server stopped", "err", err)
			return 1
		case <-hup:
			f, b = reload(path, f, b, srv, logger)
			continue
		case <-ctx.Done():
		}
		break
	}
	stop()
	logger.Info("shutting down", "drain_timeout", f.Shutdown.DrainTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), f.Shutdown.DrainTimeout+5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		logger.Warn("shutdown", "err", err)
	}
	logger.Info("stopped")
	return 0
}
