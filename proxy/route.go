package proxy

import (
	"strings"

	"github.com/agentbridge/agentbridge/translators"
)

// router matches request paths against the routes in order; the first match
// wins. A pattern is an exact path ("/v1/chat") or has ":name" segments that
// match any one non-empty segment ("/agents/:agent/:name").
type router struct {
	routes []*compiledRoute
}

type compiledRoute struct {
	route    *Route
	segments []string // pattern segments; ":x" is a parameter
	exact    string   // the pattern when it has no parameters
}

// Param is one matched ":name" segment.
type Param = translators.Param

func newRouter(routes []*Route) *router {
	r := &router{}
	for _, rt := range routes {
		cr := &compiledRoute{route: rt}
		if strings.Contains(rt.Path, "/:") {
			cr.segments = strings.Split(strings.Trim(rt.Path, "/"), "/")
		} else {
			cr.exact = rt.Path
		}
		r.routes = append(r.routes, cr)
	}
	return r
}

// match returns the first route matching path and appends its parameters to
// params. A trailing slash is ignored ("/v1/" matches "/v1").
func (r *router) match(path []byte, params []Param) (*Route, []Param) {
	p := string(path) // no allocation: used for comparison only
	if len(p) > 1 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	for _, cr := range r.routes {
		if cr.segments == nil {
			if p == cr.exact {
				return cr.route, params
			}
			continue
		}
		if ps, ok := cr.matchSegments(p, params); ok {
			return cr.route, ps
		}
	}
	return nil, params
}

func (cr *compiledRoute) matchSegments(p string, params []Param) ([]Param, bool) {
	if len(p) == 0 || p[0] != '/' {
		return params, false
	}
	rest := p[1:]
	start := len(params)
	for i, seg := range cr.segments {
		var part string
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			part, rest = rest[:j], rest[j+1:]
		} else {
			part, rest = rest, ""
			if i != len(cr.segments)-1 {
				return params[:start], false
			}
		}
		if len(seg) > 0 && seg[0] == ':' {
			if part == "" {
				return params[:start], false
			}
			params = append(params, Param{Name: seg[1:], Value: strings.Clone(part)})
			continue
		}
		if part != seg {
			return params[:start], false
		}
	}
	if rest != "" {
		return params[:start], false
	}
	return params, true
}

// badParam reports whether a matched parameter is not a plain segment
// value: it held '/', a backslash, '?' or '#' (percent-encoded in the
// client's path, which the router sees decoded), a control character, or is
// "." or "..". Such a value is refused before it can reach a backend URL, where even
// escaped it could mean something else to the backend.
func badParam(params []Param, rawPath []byte) bool {
	if len(params) > 0 && hasEncodedSlash(rawPath) {
		return true // the decoded path was split at a '/' the client escaped
	}
	for _, p := range params {
		if p.Value == "." || p.Value == ".." {
			return true
		}
		for i := 0; i < len(p.Value); i++ {
			if c := p.Value[i]; c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == '?' || c == '#' {
				return true
			}
		}
	}
	return false
}

// hasEncodedSlash reports whether a raw request path holds "%2F" or "%2f".
func hasEncodedSlash(raw []byte) bool {
	for i := 0; i+2 < len(raw); i++ {
		if raw[i] != '%' {
			continue
		}
		if raw[i+1] == '2' && (raw[i+2] == 'f' || raw[i+2] == 'F') {
			return true
		}
	}
	return false
}
