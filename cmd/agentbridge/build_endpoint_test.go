package main

import (
	"io"
	"log/slog"
	"maps"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/config"
	"github.com/agentbridge/agentbridge/proxy"
)

// TestBuildBackends: each dialect's keys reach the proxy's backend through
// its descriptor (Endpoint), as build.go once wrote them out by name.
func TestBuildBackends(t *testing.T) {
	cases := []struct {
		name, backend string
		check         func(t *testing.T, b *proxy.Backend)
	}{
		{"connic header", `{dialect: connic, url: "ws://h/ws", secret: s3}`, func(t *testing.T, b *proxy.Backend) {
			if b.URL != "ws://h/ws" || !maps.Equal(b.Header, map[string]string{"X-Connic-Secret": "s3"}) || b.Options.Secret != "" {
				t.Errorf("url %q header %v secret %q", b.URL, b.Header, b.Options.Secret)
			}
		}},
		{"connic query", `{dialect: connic, url: "ws://h/ws?a=1", secret: s3, secret_in: query}`, func(t *testing.T, b *proxy.Backend) {
			if b.URL != "ws://h/ws?a=1&X-Connic-Secret=s3" || b.Header != nil {
				t.Errorf("url %q header %v", b.URL, b.Header)
			}
		}},
		{"connic first frame", `{dialect: connic, url: "ws://h/ws", secret: s3, secret_in: first_frame}`, func(t *testing.T, b *proxy.Backend) {
			if b.Options.Secret != "s3" || b.Header != nil || b.URL != "ws://h/ws" {
				t.Errorf("secret %q header %v url %q", b.Options.Secret, b.Header, b.URL)
			}
		}},
		{"plain whole", `{dialect: plain, url: "ws://h/"}`, func(t *testing.T, b *proxy.Backend) {
			if b.Options.Chunked || b.IdleGap != 0 || b.Options.Settings.String("end_marker") != "" {
				t.Errorf("options %+v idle gap %v", b.Options, b.IdleGap)
			}
		}},
		{"plain idle gap", `{dialect: plain, url: "ws://h/", chunked: true}`, func(t *testing.T, b *proxy.Backend) {
			if !b.Options.Chunked || b.IdleGap != 500*time.Millisecond {
				t.Errorf("chunked %v idle gap %v", b.Options.Chunked, b.IdleGap)
			}
		}},
		{"plain marker", `{dialect: plain, url: "ws://h/", chunked: true, end_marker: "[DONE]"}`, func(t *testing.T, b *proxy.Backend) {
			if !b.Options.Chunked || b.Options.EndMarker != "[DONE]" || b.IdleGap != 0 {
				t.Errorf("options %+v idle gap %v", b.Options, b.IdleGap)
			}
		}},
		{"wiro", `{dialect: wiro, api_url: "http://h/v1", socket_url: "ws://h/v1", api_key: k, useragent_guid: g}`, func(t *testing.T, b *proxy.Backend) {
			if b.URL != "ws://h/v1" || b.APIURL != "http://h/v1" || b.APIKey != "k" || b.AgentID != "g" || b.Header != nil {
				t.Errorf("url %q api %q key %q agent %q header %v", b.URL, b.APIURL, b.APIKey, b.AgentID, b.Header)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := config.Parse("t.yaml", []byte("version: 1\nbackends:\n  b: "+c.backend+"\nroutes:\n  - {path: /a, dialect: plain, auth: none, backend: b}\n"), dialects)
			if err != nil {
				t.Fatal(err)
			}
			pc, err := build(f, dialects, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, pc.Routes[0].Backend)
		})
	}
}
