// Command agentbridge runs the protocol-translating WebSocket proxy.
//
//	agentbridge [serve] [-config config.yaml]   run the proxy (the default)
//	agentbridge validate [-config config.yaml]  check a configuration; exit 0 or 1
//	agentbridge version                         print the version
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
	"syscall"
	"time"

	"github.com/agentbridge/agentbridge/config"
	"github.com/agentbridge/agentbridge/proxy"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve", "validate":
	case "version":
		fmt.Fprintf(stdout, "agentbridge %s (%s, dialects: %s)\n", version, runtime.Version(), dialectNames(dialects))
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "agentbridge: unknown command %q\n", cmd)
		usage(stderr)
		return 2
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", defaultConfigPath(), "configuration file")
	if err := fs.Parse(args); err != nil {
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
	pcfg, err := build(f, dialects, logger)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", *path, err)
		return 1
	}
	if cmd == "validate" {
		fmt.Fprintf(stdout, "%s: ok (%d routes, %d backends)\n", *path, len(f.Routes), len(f.Backends))
		return 0
	}
	return serve(ctx, f, pcfg, logger)
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  agentbridge [serve] [-config config.yaml]   run the proxy
  agentbridge validate [-config config.yaml]  check a configuration
  agentbridge version                         print the version
`)
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
func serve(ctx context.Context, f *config.File, pcfg proxy.Config, logger *slog.Logger) int {
	srv, err := proxy.New(pcfg)
	if err != nil {
		logger.Error("cannot start", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP would end the process by default. Until configuration reload
	// exists, say so and keep serving.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	ln, err := net.Listen("tcp", f.Listen)
	if err != nil {
		logger.Error("cannot listen", "addr", f.Listen, "err", err)
		return 1
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	names := make([]string, 0, len(f.Routes))
	for _, r := range f.Routes {
		names = append(names, r.Path)
	}
	logger.Info("agentbridge listening", "addr", ln.Addr().String(), "version", version, "routes", names)
	for {
		select {
		case err := <-errc:
			logger.Error("server stopped", "err", err)
			return 1
		case <-hup:
			logger.Warn("SIGHUP ignored: configuration reload is not supported yet; restart to apply changes")
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
