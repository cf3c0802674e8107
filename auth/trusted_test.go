package auth

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestTrustedHeaderPitfalls(t *testing.T) {
	th, err := NewTrustedHeader(TrustedHeaderConfig{
		Name:           "sso",
		Header:         "X-Forwarded-User",
		TrustedProxies: []string{"127.0.0.1", "10.0.0.0/8", "fd00::/8", "::ffff:192.168.1.0/120"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		peer  string // "" is the zero Addr
		value string
		want  error
	}{
		{"trusted address", "127.0.0.1", "alice", nil},
		{"trusted prefix", "10.20.30.40", "alice", nil},
		{"untrusted address", "127.0.0.2", "mallory", ErrInvalid},
		{"untrusted public address", "203.0.113.7", "mallory", ErrInvalid},
		{"IPv6 trusted", "fd12::1", "alice", nil},
		{"IPv6 untrusted", "fe80::1", "mallory", ErrInvalid},
		{"IPv6 with zone", "fd12::1%eth0", "alice", nil},
		{"IPv4-mapped IPv6 peer", "::ffff:10.1.2.3", "alice", nil},
		{"IPv4-mapped untrusted peer", "::ffff:127.0.0.2", "mallory", ErrInvalid},
		{"IPv4-mapped configured prefix", "192.168.1.9", "alice", nil},
		{"IPv6 loopback is not 127.0.0.1", "::1", "mallory", ErrInvalid},
		{"empty value", "127.0.0.1", "", ErrInvalid},
		{"control characters (log injection)", "127.0.0.1", "alice\r\nadmin", ErrInvalid},
		{"oversized value", "127.0.0.1", strings.Repeat("a", 1025), ErrInvalid},
		{"no peer address", "", "alice", ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var peer netip.Addr
			if tt.peer != "" {
				peer = netip.MustParseAddr(tt.peer)
			}
			id, err := th.Identify(peer, tt.value)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Identify(%s, %q) = %v, want %v", tt.peer, tt.value, err, tt.want)
			}
			if err == nil && (id.Subject != tt.value || id.Provider != "sso") {
				t.Errorf("identity = %+v", id)
			}
			if err != nil && tt.value != "" && strings.Contains(err.Error(), tt.value) {
				t.Errorf("error %q contains the header value", err)
			}
		})
	}
	if got := th.HeaderName(); got != "X-Forwarded-User" {
		t.Errorf("HeaderName() = %q", got)
	}
	if _, err := th.Authenticate(context.Background(), Credential{Value: "alice"}); !errors.Is(err, ErrNoCredential) {
		t.Errorf("Authenticate = %v, want ErrNoCredential", err)
	}
}

func TestNewTrustedHeaderConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  TrustedHeaderConfig
	}{
		{"no header", TrustedHeaderConfig{TrustedProxies: []string{"127.0.0.1"}}},
		{"bad header", TrustedHeaderConfig{Header: "X User", TrustedProxies: []string{"127.0.0.1"}}},
		{"no proxies", TrustedHeaderConfig{Header: "X-User"}},
		{"bad proxy", TrustedHeaderConfig{Header: "X-User", TrustedProxies: []string{"localhost"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewTrustedHeader(tt.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
