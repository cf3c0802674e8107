// Package redact hides credentials in text the proxy prints.
package redact

import "strings"

// Text replaces what is hidden.
const Text = "REDACTED"

// URL returns s with its userinfo, every query value and its fragment
// replaced by Text, so a URL can be logged or printed whole: tokens travel
// in any of those places. It works on the text, so a URL that does not
// parse (and is printed in the error that says so) is redacted too.
func URL(s string) string {
	rest, frag, hasFrag := strings.Cut(s, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(userinfo(rest))
	if hasQuery {
		b.WriteByte('?')
		b.WriteString(queryValues(query))
	}
	if hasFrag {
		b.WriteByte('#')
		if frag != "" {
			b.WriteString(Text)
		}
	}
	return b.String()
}

// userinfo hides the "user:password@" of a URL without its query.
func userinfo(s string) string {
	scheme, rest, ok := strings.Cut(s, "//")
	if !ok {
		return s
	}
	authority, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return s
	}
	return scheme + "//" + Text + authority[at:] + path
}

// queryValues keeps the names of a query and hides their values; a part
// without '=' is hidden whole, since it may be a bare token.
func queryValues(q string) string {
	var b strings.Builder
	for i, kv := range strings.Split(q, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		if kv == "" {
			continue
		}
		k, _, hasValue := strings.Cut(kv, "=")
		if !hasValue {
			b.WriteString(Text)
			continue
		}
		b.WriteString(k + "=" + Text)
	}
	return b.String()
}
