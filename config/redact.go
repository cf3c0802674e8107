package config

import (
	"slices"

	"github.com/agentbridge/agentbridge/internal/redact"
)

// RedactedText is the text that replaces secrets in a Redacted File.
const RedactedText = "REDACTED"

// Redacted returns a deep copy of f with every secret replaced by
// "REDACTED": secret provider secrets, JWT secrets, backend secrets, API
// keys, and userinfo and query values inside URLs. Use it for `config
// print` and logs.
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
		q.Secret = hideSecret(p.Secret)
		q.IssueWith = slices.Clone(p.IssueWith)
		q.Algorithms = slices.Clone(p.Algorithms)
		q.KeyFiles = slices.Clone(p.KeyFiles)
		q.TrustedProxies = slices.Clone(p.TrustedProxies)
		q.JWKSURL = redact.URL(p.JWKSURL)
		c.Auth[name] = &q
	}
	c.Backends = make(map[string]*Backend, len(f.Backends))
	for name, b := range f.Backends {
		q := *b
		q.Secret = hideSecret(b.Secret)
		q.APIKey = hideSecret(b.APIKey)
		q.URL = redact.URL(b.URL)
		q.APIURL = redact.URL(b.APIURL)
		q.SocketURL = redact.URL(b.SocketURL)
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

func hideSecret(s string) string {
	if s == "" {
		return ""
	}
	return RedactedText
}
