package auth

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// maxSubjectBytes bounds a trusted header's value.
const maxSubjectBytes = 1024

// TrustedHeaderConfig configures a trusted-header provider. All fields are
// required.
type TrustedHeaderConfig struct {
	// Name is the provider's name, reported as Identity.Provider.
	Name string
	// Header is the request header an upstream proxy sets to the
	// authenticated user, like X-Forwarded-User.
	Header string
	// TrustedProxies are the peers allowed to set Header: CIDR prefixes
	// (10.0.0.0/8, fd00::/8) or single addresses (127.0.0.1).
	TrustedProxies []string
}

// TrustedHeader admits clients whose identity an upstream proxy asserts in
// a header, when the connection comes from that proxy.
//
// The header proves nothing by itself: anyone can send it. The proxy must
// therefore call Identify with the connection's peer address, and must
// strip the header from requests whose peer is not trusted (and from every
// request it forwards to a backend), so that a value set by a client never
// travels further.
//
// A TrustedHeader is safe for concurrent use.
type TrustedHeader struct {
	name     string
	header   string
	prefixes []netip.Prefix
}

// NewTrustedHeader returns a trusted-header provider for cfg.
func NewTrustedHeader(cfg TrustedHeaderConfig) (*TrustedHeader, error) {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("auth: trusted header provider %s: "+format, append([]any{cfg.Name}, a...)...)
	}
	if !headerToken(cfg.Header) {
		return nil, fail("invalid header name %q", cfg.Header)
	}
	if len(cfg.TrustedProxies) == 0 {
		return nil, fail("no trusted proxies: anyone could claim any user")
	}
	t := &TrustedHeader{name: cfg.Name, header: cfg.Header}
	for _, s := range cfg.TrustedProxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				return nil, fail("invalid CIDR or IP address %q", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		// An IPv4-mapped prefix (::ffff:10.0.0.0/104) means the IPv4 one;
		// peers are unmapped before matching, so store it unmapped too.
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		t.prefixes = append(t.prefixes, p.Masked())
	}
	return t, nil
}

// HeaderName returns the header the provider reads, as configured.
func (t *TrustedHeader) HeaderName() string { return t.header }

// Identify admits a client whose connection comes from peer, a trusted
// proxy, and whose request carries headerValue in the header. The value,
// which must be non-empty, at most 1 KiB and free of control characters,
// becomes Identity.Subject. Anything else is ErrInvalid. An IPv4-mapped
// IPv6 peer (::ffff:10.1.2.3, as a dual-stack listener reports IPv4
// clients) is matched as the IPv4 address.
func (t *TrustedHeader) Identify(peer netip.Addr, headerValue string) (Identity, error) {
	if !t.trusted(peer) {
		return Identity{}, fmt.Errorf("%w: peer is not a trusted proxy", ErrInvalid)
	}
	if headerValue == "" || len(headerValue) > maxSubjectBytes || strings.ContainsFunc(headerValue, isControl) {
		return Identity{}, fmt.Errorf("%w: empty or malformed %s", ErrInvalid, t.header)
	}
	return Identity{Subject: headerValue, Provider: t.name}, nil
}

func (t *TrustedHeader) trusted(peer netip.Addr) bool {
	if !peer.IsValid() {
		return false
	}
	peer = peer.Unmap().WithZone("")
	for _, p := range t.prefixes {
		if p.Contains(peer) {
			return true
		}
	}
	return false
}

// Authenticate returns ErrNoCredential: a header value alone cannot be
// trusted without the peer's address, which a Credential does not carry.
// The proxy calls Identify instead.
func (t *TrustedHeader) Authenticate(context.Context, Credential) (Identity, error) {
	return Identity{}, ErrNoCredential
}

func headerToken(h string) bool {
	for _, r := range h {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return h != ""
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f }
