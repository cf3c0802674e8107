package config

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/agentbridge/agentbridge/translators"
)

// The configuration knows dialects only through the table given to Load:
// their names, the keys they declare (translators.Key) and whether they are
// REST dialects. Each dialect key is checked here against its declaration,
// so a new dialect adds no code to this package.

// demoDialect is the built-in demo agent: a backend dialect outside the
// table, whose keys (the demo section) this package knows.
const demoDialect = "demo"

// checkTable reports a dialect table that no file could be checked with:
// duplicate names, or keys declared wrongly or already used by every route
// or backend. It is a programming error, not a problem with the file.
func checkTable(dialects []translators.Dialect) error {
	seen := map[string]bool{demoDialect: true}
	for _, d := range dialects {
		if d.Name == "" || seen[d.Name] {
			return fmt.Errorf("dialect table: name %q is empty or used twice", d.Name)
		}
		seen[d.Name] = true
		for _, set := range []struct {
			what    string
			keys    []translators.Key
			generic []string
		}{{"route", d.RouteKeys, keysOf(rawTypes["config.rawRoute"])}, {"backend", d.BackendKeys, keysOf(rawTypes["config.rawBackend"])}} {
			names := map[string]bool{}
			for _, k := range set.keys {
				if err := checkKey(k); err != nil {
					return fmt.Errorf("dialect %s: %s key %q: %v", d.Name, set.what, k.Name, err)
				}
				if names[k.Name] || slices.Contains(set.generic, k.Name) {
					return fmt.Errorf("dialect %s: %s key %q is declared twice or is a key every %s has", d.Name, set.what, k.Name, set.what)
				}
				names[k.Name] = true
			}
		}
	}
	return nil
}

func checkKey(k translators.Key) error {
	switch {
	case !validParam(k.Name):
		return fmt.Errorf("a key name is letters, digits and _")
	case k.Kind < translators.KeyString || k.Kind > translators.KeyURL:
		return fmt.Errorf("unknown kind %d", k.Kind)
	case (k.Kind == translators.KeyEnum || k.Kind == translators.KeyURL) && len(k.Values) == 0:
		return fmt.Errorf("no values (an enum's choices, a URL's schemes)")
	case k.Required && k.Doc == "":
		return fmt.Errorf("a required key needs Doc for its message")
	}
	_, err := defaultValue(k)
	return err
}

// defaultValue converts a key's declared default.
func defaultValue(k translators.Key) (any, error) {
	s := k.Default
	switch k.Kind {
	case translators.KeyBool:
		if s == "" {
			return false, nil
		}
		return strconv.ParseBool(s)
	case translators.KeyDuration:
		if s == "" {
			return time.Duration(0), nil
		}
		return time.ParseDuration(s)
	case translators.KeySize:
		if s == "" {
			return int64(0), nil
		}
		return ParseSize(s)
	case translators.KeyCount:
		if s == "" {
			return 0, nil
		}
		return strconv.Atoi(s)
	case translators.KeyEnum:
		if s != "" && !slices.Contains(k.Values, s) {
			return nil, fmt.Errorf("default %q is not one of %v", s, k.Values)
		}
	}
	return s, nil
}

// dialect returns the table's dialect named name.
func (l *loader) dialect(name string) (translators.Dialect, bool) {
	i := slices.IndexFunc(l.dialects, func(d translators.Dialect) bool { return d.Name == name })
	if i < 0 {
		return translators.Dialect{}, false
	}
	return l.dialects[i], true
}

// dialectNames lists the table's names, demo first when withDemo.
func (l *loader) dialectNames(withDemo bool) []string {
	var names []string
	if withDemo {
		names = append(names, demoDialect)
	}
	for _, d := range l.dialects {
		names = append(names, d.Name)
	}
	return names
}

// orList joins names as "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// declaredBy lists the dialects whose keys (routeKeys or backendKeys of
// each) include name.
func (l *loader) declaredBy(name string, keys func(translators.Dialect) []translators.Key) []string {
	var names []string
	for _, d := range l.dialects {
		if slices.ContainsFunc(keys(d), func(k translators.Key) bool { return k.Name == name }) {
			names = append(names, d.Name)
		}
	}
	return names
}

func routeKeys(d translators.Dialect) []translators.Key   { return d.RouteKeys }
func backendKeys(d translators.Dialect) []translators.Key { return d.BackendKeys }

// settings checks the keys d declares, as written in written, and returns
// every one's value (written, else its default), then reports d's problems
// with their combination. path is the route's or backend's.
func (l *loader) settings(d translators.Dialect, decl []translators.Key, written map[string]yaml.Node, path string, check func(translators.Settings) []translators.KeyError) translators.Settings {
	s := make(translators.Settings, len(decl))
	for _, k := range decl {
		kp := path + "." + k.Name
		n, ok := written[k.Name]
		var v any
		if ok && !absent(resolve(&n)) {
			v, ok = l.keyValue(d, &n, kp, k)
		} else {
			ok = false
			if k.Required {
				l.at(kp, "required: %s", k.Doc)
			}
		}
		if !ok {
			v, _ = defaultValue(k) // checked by checkTable
		}
		s[k.Name] = translators.Setting{Value: v, Kind: k.Kind, Written: ok}
	}
	if check != nil {
		for _, e := range check(s) {
			l.at(path+"."+e.Key, "%s", e.Msg)
		}
	}
	return s
}

// keyValue converts and checks one written value of a dialect key.
func (l *loader) keyValue(d translators.Dialect, n *yaml.Node, path string, k translators.Key) (any, bool) {
	what := cmp.Or(k.What, k.Name)
	switch k.Kind {
	case translators.KeyString, translators.KeySecret:
		s, ok := l.str(n, path)
		if ok && (k.Required || k.Kind == translators.KeySecret) && !l.nonEmpty(n, path, what, s) {
			return nil, false
		}
		return s, ok
	case translators.KeyBool:
		return l.boolean(n, path)
	case translators.KeyDuration:
		return l.timeout(n, path)
	case translators.KeySize:
		return l.size(n, path, math.MaxInt64)
	case translators.KeyCount:
		return l.count(n, path, math.MaxInt32)
	case translators.KeyEnum:
		return l.oneOf(n, path, what, k.Values...)
	case translators.KeyURL:
		s, ok := l.str(n, path)
		return s, ok && l.checkURL(n, path, s, k.Values...) && l.noParams(d, n, path, s)
	}
	return nil, false
}

// noParams refuses a "{param}" placeholder in a dialect's own URL key: the
// proxy fills in only a backend's url, and the placeholder would reach the
// backend as "%7Bparam%7D".
func (l *loader) noParams(d translators.Dialect, n *yaml.Node, path, s string) bool {
	names := placeholders(s)
	switch {
	case len(names) == 0:
		return true
	case d.REST != nil:
		l.problem(n, path, "{%s}: route parameters are not filled in here, because a %s backend's socket and API are shared by every route and session", names[0], d.Display())
	default:
		l.problem(n, path, "{%s}: route parameters are not filled in here, only in a backend's url", names[0])
	}
	return false
}

// placeholders returns the names of the "{param}" placeholders in s.
func placeholders(s string) []string {
	var names []string
	for rest := s; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return names
		}
		rest = rest[i+1:]
		if name, _, ok := strings.Cut(rest, "}"); ok && validParam(name) {
			names = append(names, name)
		}
	}
}

// unknownHere explains a key that no dialect declares, naming the keys
// accepted at path.
func (l *loader) unknownHere(path, key string, accepted []string) {
	if s := closest(key, accepted); s != "" {
		l.at(join(path, key), "unknown key %q (did you mean %q?)", key, s)
		return
	}
	l.at(join(path, key), "unknown key %q (known keys here: %s)", key, strings.Join(accepted, ", "))
}

// appendKeys appends the names of d's keys, or with all those of every
// dialect in the table, once each.
func (l *loader) appendKeys(names []string, d translators.Dialect, all bool, keys func(translators.Dialect) []translators.Key) []string {
	ds := []translators.Dialect{d}
	if all {
		ds = l.dialects
	}
	for _, d := range ds {
		for _, k := range keys(d) {
			if !slices.Contains(names, k.Name) {
				names = append(names, k.Name)
			}
		}
	}
	return names
}
