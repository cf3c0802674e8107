package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// route checks one route against the providers and backends of f.
func (l *loader) route(f *File, raw *rawFile, i int, r *rawRoute) *Route {
	path := fmt.Sprintf("routes[%d]", i)
	line, _ := l.idx.pos(path)
	if r == nil {
		l.at(path, "empty route: give it at least path, dialect, auth and backend")
		return nil
	}
	rt := defaultRoute(f, line)

	if absent(&r.Path) {
		l.at(path+".path", "required: the URL path clients connect to, like /chat or /agents/:name")
	} else if p, ok := l.str(&r.Path, path+".path"); ok {
		for _, msg := range checkPattern(p) {
			l.problem(&r.Path, path+".path", "%s", msg)
		}
		rt.Path = p
	}
	rt.Name = rt.Path
	if n, ok := l.str(&r.Name, path+".name"); ok && l.nonEmpty(&r.Name, path+".name", "name", n) {
		rt.Name = n
	}

	if absent(&r.Dialect) {
		l.at(path+".dialect", "required: the protocol clients speak: %s", orList(l.dialectNames(false)))
	} else {
		setIf(&rt.Dialect)(l.oneOf(&r.Dialect, path+".dialect", "client dialect", l.dialectNames(false)...))
	}

	l.routeAuth(f, raw, r, path, rt)

	if absent(&r.Backend) {
		l.at(path+".backend", "required: the name of a backend (%s)", defined("backends", raw.Backends))
	} else if b, ok := l.str(&r.Backend, path+".backend"); ok {
		if _, written := raw.Backends[b]; !written {
			l.problem(&r.Backend, path+".backend", "unknown backend %q (%s)", b, defined("backends", raw.Backends))
		}
		rt.Backend = b
		if be := f.Backends[b]; be != nil {
			l.routeParams(&r.Backend, path+".backend", rt, be)
		}
	}

	if origins, ok := l.list(&r.Origins, path+".origins"); ok {
		items := resolve(&r.Origins).Content
		for j, o := range origins {
			if msg := checkOrigin(o, len(origins)); msg != "" {
				l.problem(items[j], fmt.Sprintf("%s.origins[%d]", path, j), "%s", msg)
			}
		}
		rt.Origins = origins
	}

	l.routeKeysUsed(r, path, rt.Dialect)
	if d, ok := l.dialect(rt.Dialect); ok {
		rt.Settings = l.settings(d, d.RouteKeys, r.Keys, path, d.CheckRoute)
	}

	if s := r.Session; s != nil {
		sp := path + ".session"
		setIf(&rt.Session.Streaming)(l.boolean(&s.Streaming, sp+".streaming"))
		setIf(&rt.Session.Timeout)(l.timeout(&s.Timeout, sp+".timeout"))
		if v, ok := l.str(&s.MaxMessages, sp+".max_messages"); ok && strings.TrimSpace(v) == "-1" {
			rt.Session.MaxMessages = -1 // no limit
		} else {
			setIf(&rt.Session.MaxMessages)(l.count(&s.MaxMessages, sp+".max_messages", 1<<31-1))
		}
		if d, ok := l.duration(&s.ResumeWindow, sp+".resume_window"); ok {
			if d < 0 {
				l.problem(&s.ResumeWindow, sp+".resume_window", "must not be negative (0 keeps no session after its client left)")
			} else {
				rt.Session.ResumeWindow = d
			}
		}
		setIf(&rt.Session.ResumeEvents)(l.count(&s.ResumeEvents, sp+".resume_events", 1<<20))
		setIf(&rt.Session.ResumeBytes)(l.size(&s.ResumeBytes, sp+".resume_bytes", 1<<30))
	}
	if r.Limits != nil {
		l.limits(r.Limits, path+".limits", &rt.Limits)
	}
	return rt
}

// routeKeysUsed reports the dialect keys written in r that a route whose
// clients speak dialect does not use: another dialect's, or no dialect's.
// With dialect "" (not known) it reports only the keys of no dialect.
func (l *loader) routeKeysUsed(r *rawRoute, path, dialect string) {
	d, _ := l.dialect(dialect)
	accepted := l.appendKeys(keysOf(rawTypes["config.rawRoute"]), d, dialect == "", routeKeys)
	for _, k := range sortedKeys(r.Keys) {
		if n := r.Keys[k]; absent(&n) {
			continue
		}
		users := l.declaredBy(k, routeKeys)
		switch {
		case slices.Contains(users, dialect):
		case len(users) == 0:
			l.unknownHere(path, k, accepted)
		case dialect != "":
			l.at(join(path, k), "only used with dialect %s (this route's clients speak %s)", strings.Join(users, ", "), dialect)
		}
	}
}

// routeParams checks that every "{param}" in the backend's URL is a
// ":param" of the route's path; the conversations of a route whose clients
// send over REST (Wiro) are opened by REST calls, outside any one path, so
// its backend URL can have none.
func (l *loader) routeParams(n *yaml.Node, path string, rt *Route, b *Backend) {
	client, _ := l.dialect(rt.Dialect)
	for _, name := range placeholders(b.URL) {
		switch {
		case client.REST != nil:
			l.problem(n, path, "backend %q's url uses {%s}, but a %s route has no path parameters to fill it with (its conversations are opened by REST calls)", rt.Backend, name, client.Display())
		case !slices.Contains(strings.Split(rt.Path, "/"), ":"+name):
			l.problem(n, path, "backend %q's url uses {%s}, which is not a parameter of this route's path %q", rt.Backend, name, rt.Path)
		}
	}
}

// routeAuth checks `auth:`, which every route must write: either the word
// none or a list of provider names.
func (l *loader) routeAuth(f *File, raw *rawFile, r *rawRoute, path string, rt *Route) {
	ap := path + ".auth"
	n := resolve(&r.Auth)
	if absent(n) {
		l.at(ap, `required: list providers or write "auth: none"`)
		return
	}
	if n.Kind == yaml.ScalarNode {
		s, ok := l.str(&r.Auth, ap)
		switch {
		case !ok:
		case s == "none":
			rt.AuthNone = true
		default:
			l.problem(&r.Auth, ap, `expected a list of providers, like [%s], or "none"`, s)
		}
		return
	}
	names, ok := l.list(&r.Auth, ap)
	if !ok {
		return
	}
	if len(names) == 0 {
		l.problem(&r.Auth, ap, `empty list: list providers or write "auth: none"`)
		return
	}
	for j, name := range names {
		item := n.Content[j]
		ip := fmt.Sprintf("%s[%d]", ap, j)
		_, written := raw.Auth[name]
		switch {
		case name == "none":
			l.problem(item, ip, `"none" cannot be listed: write "auth: none" on its own to let anyone connect`)
		case slices.Contains(names[:j], name):
			l.problem(item, ip, "provider %q is listed twice", name)
		case !written:
			l.problem(item, ip, "unknown auth provider %q (%s)", name, defined("auth providers", raw.Auth))
		}
	}
	rt.Auth = names
}

// checkPattern checks a route path: "/", "/exact/path" or "/with/:params".
func checkPattern(p string) []string {
	if !strings.HasPrefix(p, "/") {
		return []string{fmt.Sprintf("must start with /, like /%s", p)}
	}
	if p == "/" {
		return nil
	}
	var msgs []string
	if strings.ContainsAny(p, "?#") {
		msgs = append(msgs, "must not contain ? or #: a route matches the path only")
	}
	seen := map[string]bool{}
	for _, seg := range strings.Split(p[1:], "/") {
		switch {
		case seg == "":
			msgs = append(msgs, fmt.Sprintf("empty segment in %q: remove the doubled or trailing /", p))
		case seg[0] == ':':
			name := seg[1:]
			if !validParam(name) {
				msgs = append(msgs, fmt.Sprintf("invalid parameter %q: after : write a name of letters, digits and _", seg))
			} else if seen[name] {
				msgs = append(msgs, fmt.Sprintf("parameter :%s appears twice", name))
			}
			seen[name] = true
		}
	}
	return msgs
}

func validParam(s string) bool {
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// segments splits a pattern, writing every parameter as ":".
func segments(p string) []string {
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") {
			segs[i] = ":"
		}
	}
	return segs
}

// covers reports whether pattern a matches every path pattern b matches.
func covers(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != ":" && a[i] != b[i] {
			return false
		}
	}
	return true
}

func checkOrigin(o string, n int) string {
	if o == "*" {
		if n > 1 {
			return `"*" allows every origin: remove the other entries, or remove "*"`
		}
		return ""
	}
	u, err := url.Parse(o)
	switch {
	case err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "":
		return fmt.Sprintf(`invalid origin %q: write scheme://host[:port], like https://app.example.com, or "*"`, o)
	case u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#"):
		return fmt.Sprintf("invalid origin %q: an origin is only scheme://host[:port], like %s://%s", o, u.Scheme, u.Host)
	}
	return ""
}

// routeConflicts reports duplicate names and routes an earlier route
// always matches first.
// at is the index in the file of each route in routes.
func (l *loader) routeConflicts(routes []*Route, at []int) {
	names := map[string]int{}    // name -> index in routes
	patterns := map[string]int{} // pattern with params as ":" -> index in routes
	var segs [][]string          // valid patterns, for shadowing
	var segAt []int
	for jj, b := range routes {
		j := at[jj]
		if ii, dup := names[b.Name]; dup && b.Name != "" {
			a := routes[ii]
			l.at(fmt.Sprintf("routes[%d].name", j), "duplicate route name %q (also routes[%d] at line %d); give each route its own name", b.Name, at[ii], a.Line)
		} else {
			names[b.Name] = jj
		}
		if b.Path == "" || len(checkPattern(b.Path)) > 0 {
			continue
		}
		sb := segments(b.Path)
		key := strings.Join(sb, "/")
		if ii, dup := patterns[key]; dup {
			a := routes[ii]
			l.at(fmt.Sprintf("routes[%d].path", j), "same path pattern as routes[%d] (%s, line %d): the first match wins, so this route is never used", at[ii], a.Path, a.Line)
			continue
		}
		for k, sa := range segs {
			if covers(sa, sb) {
				a := routes[segAt[k]]
				l.at(fmt.Sprintf("routes[%d].path", j), "never used: routes[%d] (%s, line %d) comes first and matches every path this one does; move this route above it", at[segAt[k]], a.Path, a.Line)
				break
			}
		}
		patterns[key] = jj
		segs = append(segs, sb)
		segAt = append(segAt, jj)
	}
}
