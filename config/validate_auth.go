package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// providerKeys lists the provider types that use each key.
var providerKeys = map[string][]string{
	"secrets":                {"secret"},
	"ttl":                    {"ticket"},
	"issue_with":             {"ticket"},
	"algorithms":             {"jwt"},
	"secret":                 {"jwt"},
	"key_files":              {"jwt"},
	"jwks_url":               {"jwt"},
	"issuer":                 {"jwt"},
	"audience":               {"jwt"},
	"leeway":                 {"jwt"},
	"allow_expired_sessions": {"jwt"},
	"header":                 {"trusted_header"},
	"trusted_proxies":        {"trusted_header"},
}

var jwtAlgorithms = []string{
	"HS256", "HS384", "HS512", "RS256", "RS384", "RS512",
	"ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "EdDSA",
}

// provider checks one auth provider. It returns nil when the provider's
// type is unknown, so that routes naming it are not reported twice.
func (l *loader) provider(name string, r *rawProvider) *AuthProvider {
	path := "auth." + name
	line, _ := l.idx.pos(path)
	switch {
	case name == "none":
		l.at(path, `"none" is reserved: a route turns authentication off with "auth: none"; give this provider another name`)
	case !validName(name):
		l.at(path, "invalid provider name %q: use letters, digits, _, - and .", name)
	}
	if r == nil {
		l.at(path, "empty provider: give it a type (none, secret, ticket, jwt or trusted_header)")
		return nil
	}
	if absent(&r.Type) {
		l.at(path+".type", "required: one of none, secret, ticket, jwt, trusted_header")
		return nil
	}
	typ, ok := l.oneOf(&r.Type, path+".type", "provider type", "none", "secret", "ticket", "jwt", "trusted_header")
	if !ok {
		return nil
	}
	p := defaultProvider(name, typ, line)
	l.onlyKeys(r, path, "provider type", typ, providerKeys)
	switch typ {
	case "secret":
		l.secretProvider(r, path, p)
	case "ticket":
		setIf(&p.TTL)(l.timeout(&r.TTL, path+".ttl"))
		if absent(&r.IssueWith) {
			l.at(path+".issue_with", "required: list the providers that may issue tickets, like [team]")
		} else if names, ok := l.list(&r.IssueWith, path+".issue_with"); ok {
			if len(names) == 0 {
				l.problem(&r.IssueWith, path+".issue_with", "empty list: name the providers that may issue tickets, like [team]")
			}
			p.IssueWith = names
		}
	case "jwt":
		l.jwtProvider(r, path, p)
	case "trusted_header":
		l.trustedHeader(r, path, p)
	}
	return p
}

func (l *loader) secretProvider(r *rawProvider, path string, p *AuthProvider) {
	if absent(&r.Secrets) {
		l.at(path+".secrets", `required: list the accepted secrets, like ["${TEAM_SECRET}"]`)
		return
	}
	its, ok := l.items(&r.Secrets, path+".secrets")
	if !ok {
		return
	}
	if len(its) == 0 {
		l.problem(&r.Secrets, path+".secrets", `empty list: give at least one secret, like ["${TEAM_SECRET}"]`)
	}
	skipped := false
	for _, it := range its {
		switch {
		case !it.ok:
		case it.val == "" && strings.Contains(resolve(it.node).Value, "${"):
			// A rotation list names the previous secret with a default,
			// like "${TEAM_SECRET_PREVIOUS:-}": empty outside a rotation.
			l.warn(it.node, it.path, "empty secret skipped (%q expanded to an empty string)", resolve(it.node).Value)
			skipped = true
		case !l.nonEmpty(it.node, it.path, "secret", it.val):
		default:
			p.Secrets = append(p.Secrets, it.val)
		}
	}
	if skipped && len(p.Secrets) == 0 {
		l.problem(&r.Secrets, path+".secrets", "every secret is empty: set at least one (an unset variable with an empty default?)")
	}
}

func (l *loader) jwtProvider(r *rawProvider, path string, p *AuthProvider) {
	var hs, asym []string
	if absent(&r.Algorithms) {
		l.at(path+".algorithms", "required: list the accepted signing algorithms, like [RS256]")
	} else if its, ok := l.items(&r.Algorithms, path+".algorithms"); ok {
		if len(its) == 0 {
			l.problem(&r.Algorithms, path+".algorithms", "empty list: name the accepted signing algorithms, like [RS256]")
		}
		for _, it := range its {
			a := it.val
			switch {
			case !it.ok:
				continue
			case strings.EqualFold(a, "none"):
				l.problem(it.node, it.path, `algorithm "none" is refused: it accepts unsigned tokens`)
				continue
			case !slices.Contains(jwtAlgorithms, a):
				for _, k := range jwtAlgorithms {
					if strings.EqualFold(k, a) {
						l.problem(it.node, it.path, "unknown algorithm %q: did you mean %s?", a, k)
						a = ""
					}
				}
				if a != "" {
					l.problem(it.node, it.path, "unknown algorithm %q (choose from: %s)", a, strings.Join(jwtAlgorithms, ", "))
				}
				continue
			case strings.HasPrefix(a, "HS"):
				hs = append(hs, a)
			default:
				asym = append(asym, a)
			}
			p.Algorithms = append(p.Algorithms, a)
		}
	}
	if s, ok := l.str(&r.Secret, path+".secret"); ok && l.nonEmpty(&r.Secret, path+".secret", "secret", s) {
		p.Secret = s
		if len(hs) == 0 && len(asym) > 0 {
			l.at(path+".secret", "secret is set, but algorithms lists no HS256/HS384/HS512: a shared secret next to %s invites key-confusion attacks; remove secret or add an HS algorithm", strings.Join(asym, ", "))
		}
	}
	if its, ok := l.items(&r.KeyFiles, path+".key_files"); ok {
		for _, it := range its {
			if it.ok && l.nonEmpty(it.node, it.path, "key file path", it.val) {
				p.KeyFiles = append(p.KeyFiles, it.val)
			}
		}
	}
	if u, ok := l.str(&r.JWKSURL, path+".jwks_url"); ok && l.checkURL(&r.JWKSURL, path+".jwks_url", u, "https", "http") {
		p.JWKSURL = u
	}
	setIf(&p.Issuer)(l.str(&r.Issuer, path+".issuer"))
	setIf(&p.Audience)(l.str(&r.Audience, path+".audience"))
	setIf(&p.Leeway)(l.nonNegative(&r.Leeway, path+".leeway"))
	setIf(&p.AllowExpiredSessions)(l.boolean(&r.AllowExpiredSessions, path+".allow_expired_sessions"))

	hasKeys := !absent(&r.KeyFiles) || !absent(&r.JWKSURL)
	switch {
	case absent(&r.Secret) && !hasKeys:
		l.at(path, "no key to verify tokens with: set secret (for HS*), key_files or jwks_url")
	case len(hs) > 0 && absent(&r.Secret):
		l.at(path+".algorithms", "%s needs a secret: add secret: \"${JWT_SECRET}\"", strings.Join(hs, ", "))
	case len(asym) > 0 && !hasKeys:
		l.at(path+".algorithms", "%s needs public keys: add key_files or jwks_url", strings.Join(asym, ", "))
	}
}

func (l *loader) trustedHeader(r *rawProvider, path string, p *AuthProvider) {
	if absent(&r.Header) {
		l.at(path+".header", "required: the header your proxy sets, like X-Forwarded-User")
	} else if h, ok := l.str(&r.Header, path+".header"); ok && l.nonEmpty(&r.Header, path+".header", "header", h) {
		if !validHeaderName(h) {
			l.problem(&r.Header, path+".header", "invalid header name %q", h)
		}
		p.Header = h
	}
	if absent(&r.TrustedProxies) {
		l.at(path+".trusted_proxies", "required: list the proxies allowed to set the header, like [127.0.0.1/32]; anyone else could claim any user")
		return
	}
	its, ok := l.items(&r.TrustedProxies, path+".trusted_proxies")
	if !ok {
		return
	}
	if len(its) == 0 {
		l.problem(&r.TrustedProxies, path+".trusted_proxies", "empty list: name the proxies allowed to set the header, like [127.0.0.1/32]")
	}
	for _, it := range its {
		if !it.ok {
			continue
		}
		if pfx, err := netip.ParsePrefix(it.val); err == nil {
			p.TrustedProxies = append(p.TrustedProxies, pfx.Masked().String())
		} else if ip, err := netip.ParseAddr(it.val); err == nil {
			p.TrustedProxies = append(p.TrustedProxies, netip.PrefixFrom(ip, ip.BitLen()).String())
		} else {
			l.problem(it.node, it.path, "invalid CIDR or IP address %q, expected like 10.0.0.0/8 or 127.0.0.1", it.val)
		}
	}
}

func validHeaderName(h string) bool {
	for _, r := range h {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return h != ""
}

// ticketRefs checks the providers each ticket provider issues with.
func (l *loader) ticketRefs(f *File, raw *rawFile) {
	for _, name := range sortedKeys(f.Auth) {
		p := f.Auth[name]
		if p.Type != "ticket" {
			continue
		}
		items := resolve(&raw.Auth[name].IssueWith).Content
		for i, ref := range p.IssueWith {
			ip := fmt.Sprintf("auth.%s.issue_with[%d]", name, i)
			q, ok := f.Auth[ref]
			_, written := raw.Auth[ref]
			switch {
			case !ok && written:
				// The provider exists but is broken; it was reported.
			case !ok:
				l.problem(items[i], ip, "unknown auth provider %q (%s)", ref, defined("auth providers", raw.Auth))
			case q.Type == "ticket":
				l.problem(items[i], ip, "%q is a ticket provider: tickets must be issued to clients that authenticate another way", ref)
			}
		}
	}
}
