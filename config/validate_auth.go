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
	secrets, ok := l.list(&r.Secrets, path+".secrets")
	if !ok {
		return
	}
	if len(secrets) == 0 {
		l.problem(&r.Secrets, path+".secrets", `empty list: give at least one secret, like ["${TEAM_SECRET}"]`)
	}
	items := resolve(&r.Secrets).Content
	for i, s := range secrets {
		l.nonEmpty(items[i], fmt.Sprintf("%s.secrets[%d]", path, i), "secret", s)
	}
	p.Secrets = secrets
}

func (l *loader) jwtProvider(r *rawProvider, path string, p *AuthProvider) {
	var hs, asym []string
	if absent(&r.Algorithms) {
		l.at(path+".algorithms", "required: list the accepted signing algorithms, like [RS256]")
	} else if algs, ok := l.list(&r.Algorithms, path+".algorithms"); ok {
		if len(algs) == 0 {
			l.problem(&r.Algorithms, path+".algorithms", "empty list: name the accepted signing algorithms, like [RS256]")
		}
		items := resolve(&r.Algorithms).Content
		for i, a := range algs {
			ip := fmt.Sprintf("%s.algorithms[%d]", path, i)
			switch {
			case strings.EqualFold(a, "none"):
				l.problem(items[i], ip, `algorithm "none" is refused: it accepts unsigned tokens`)
			case slices.Contains(jwtAlgorithms, a):
				if strings.HasPrefix(a, "HS") {
					hs = append(hs, a)
				} else {
					asym = append(asym, a)
				}
			default:
				hint := ""
				for _, k := range jwtAlgorithms {
					if strings.EqualFold(k, a) {
						hint = fmt.Sprintf(" (did you mean %s?)", k)
					}
				}
				l.problem(items[i], ip, "unknown algorithm %q%s (choose from: %s)", a, hint, strings.Join(jwtAlgorithms, ", "))
			}
		}
		p.Algorithms = algs
	}
	if s, ok := l.str(&r.Secret, path+".secret"); ok && l.nonEmpty(&r.Secret, path+".secret", "secret", s) {
		p.Secret = s
		if len(hs) == 0 && len(asym) > 0 {
			l.at(path+".secret", "a secret is only used by HS256/HS384/HS512, and algorithms lists none: a shared secret next to %s invites key-confusion attacks; remove secret or list an HS algorithm", strings.Join(asym, ", "))
		}
	}
	if files, ok := l.list(&r.KeyFiles, path+".key_files"); ok {
		items := resolve(&r.KeyFiles).Content
		for i, f := range files {
			l.nonEmpty(items[i], fmt.Sprintf("%s.key_files[%d]", path, i), "key file path", f)
		}
		p.KeyFiles = files
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
	cidrs, ok := l.list(&r.TrustedProxies, path+".trusted_proxies")
	if !ok {
		return
	}
	if len(cidrs) == 0 {
		l.problem(&r.TrustedProxies, path+".trusted_proxies", "empty list: name the proxies allowed to set the header, like [127.0.0.1/32]")
	}
	items := resolve(&r.TrustedProxies).Content
	for i, c := range cidrs {
		if pfx, err := netip.ParsePrefix(c); err == nil {
			p.TrustedProxies = append(p.TrustedProxies, pfx.Masked().String())
		} else if ip, err := netip.ParseAddr(c); err == nil {
			p.TrustedProxies = append(p.TrustedProxies, netip.PrefixFrom(ip, ip.BitLen()).String())
		} else {
			l.problem(items[i], fmt.Sprintf("%s.trusted_proxies[%d]", path, i), "invalid CIDR or IP address %q, expected like 10.0.0.0/8 or 127.0.0.1", c)
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
				l.problem(items[i], ip, "unknown auth provider %q (%s)", ref, defined(raw.Auth))
			case q.Type == "ticket":
				l.problem(items[i], ip, "%q is a ticket provider: tickets must be issued to clients that authenticate another way", ref)
			}
		}
	}
}
