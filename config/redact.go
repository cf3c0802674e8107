package config

import (
	"slices"

	"github.com/agentbridge/agentbridge/internal/redact"
	"github.com/agentbridge/agentbridge/translators"
)

// RedactedText is the text that replaces secrets in a Redacted File.
const RedactedText = "REDACTED"

// Redacted returns a deep copy of f with every secret replaced by
// "REDACTED": secret provider secrets, JWT secrets, the values of the
// dialects' secret keys (backend secrets, API keys), and userinfo and query
// values inside URLs. Use it for `config
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
		q.URL = redact.URL(b.URL)
		q.Settings = redactSettings(b.Settings)
		c.Backends[name] = &q
	}
	c.Routes = make([]*Route, len(f.Routes))
	for i, r := range f.Routes {
		q := *r
		q.Auth = slices.Clone(r.Auth)
		q.Origins = slices.Clone(r.Origins)
		q.Settings = redactSettings(r.Settings)
		c.Routes[i] = &q
	}
	return &c
}

// redactSettings copies a dialect's settings, hiding the values of its
// secret keys and the credentials in its URL keys.
func redactSettings(s translators.Settings) translators.Settings {
	if s == nil {
		return nil
	}
	c := make(translators.Settings, len(s))
	for k, v := range s {
		switch v.Kind {
		case translators.KeySecret:
			if str, _ := v.Value.(string); str != "" {
				v.Value = RedactedText
			}
		case translators.KeyURL:
			str, _ := v.Value.(string)
			v.Value = redact.URL(str)
		}
		c[k] = v
	}
	return c
}

func hideSecret(s string) string {
	if s == "" {
		return ""
	}
	return RedactedText
}
