package proxy

import "strings"

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
type Param struct{ Name, Value string }

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
