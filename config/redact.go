package config

import (
	"net/url"
	"slices"
)

// RedactedText is the text that replaces secrets in a Redacted File.
const RedactedText = "REDACTED"

// Redacted returns a deep copy of f with every secret replaced by
// "REDACTED": secret provider secrets, JWT secrets, backend secrets, API
// keys and passwords inside URLs. Use it for `config print` and logs.
func (f *File) Redacted() *File {
	if f == nil {
		return nil
	}
	c := *f
	c.Auth = make(map[string]*AuthProvider, len(f.Auth))
	for name, p := range f.Auth {
		q := *p
		q.Secrets = slices.Clone(p.Secrets)
		for i := range q.Secrets {
			q.Secrets[i] = RedactedText
		}
		q.Secret = redact(p.Secret)
		q.IssueWith = slices.Clone(p.IssueWith)
		q.Algorithms = slices.Clone(p.Algorithms)
		q.KeyFiles = slices.Clone(p.KeyFiles)
		q.TrustedProxies = slices.Clone(p.TrustedProxies)
		q.JWKSURL = redactURL(p.JWKSURL)
		c.Auth[name] = &q
	}
	c.Backends = make(map[string]*Backend, len(f.Backends))
	for name, b := range f.Backends {
		q := *b
		q.Secret = redact(b.Secret)
		q.APIKey = redact(b.APIKey)
		q.URL = redactURL(b.URL)
		q.APIURL = redactURL(b.APIURL)
		q.SocketURL = redactURL(b.SocketURL)
		c.Backends[name] = &q
	}
	c.Routes = make([]*Route, len(f.Routes))
	for i, r := range f.Routes {
		q := *r
		q.Auth = slices.Clone(r.Auth)
		q.Origins = slices.Clone(r.Origins)
		c.Routes[i] = &q
	}
	return &c
}

func redact(s string) string {
	if s == "" {
		return ""
	}
	return RedactedText
}

// redactURL hides a password in the userinfo of u.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), RedactedText)
	}
	return u.String()
}
