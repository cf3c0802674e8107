package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Leaf conversion. Each helper takes a leaf node and its path, expands
// ${VAR} references, converts the text and reports what is wrong. They
// return ok=false when the key is absent or its value is unusable; in the
// second case a problem has already been reported.

// absent reports whether a key was left out or written with no value.
func absent(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func shape(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return "a single value"
}

// str returns the expanded text of a scalar.
func (l *loader) str(n *yaml.Node, path string) (string, bool) {
	if absent(resolve(n)) {
		return "", false
	}
	v := resolve(n)
	if v.Kind != yaml.ScalarNode {
		l.problem(n, path, "expected a single value, found %s", shape(v))
		return "", false
	}
	s, errs := expand(v.Value, l.lookup)
	for _, e := range errs {
		l.problem(n, path, "%s", e)
	}
	return s, len(errs) == 0
}

// item is one expanded entry of a list.
type item struct {
	node *yaml.Node
	path string
	val  string
	ok   bool // expanded without problems
}

// items returns the entries of a list of scalars; ok is false when the
// value is absent or not a list.
func (l *loader) items(n *yaml.Node, path string) ([]item, bool) {
	v := resolve(n)
	if absent(v) {
		return nil, false
	}
	if v.Kind != yaml.SequenceNode {
		l.problem(n, path, "expected a list, like [a, b], found %s", shape(v))
		return nil, false
	}
	out := make([]item, len(v.Content))
	for i, c := range v.Content {
		it := item{node: c, path: fmt.Sprintf("%s[%d]", path, i)}
		if absent(resolve(c)) {
			l.problem(c, it.path, "empty list item")
		} else {
			it.val, it.ok = l.str(c, it.path)
		}
		out[i] = it
	}
	return out, true
}

// list returns the values of a list of scalars; ok is false when the value
// is absent or any entry is unusable.
func (l *loader) list(n *yaml.Node, path string) ([]string, bool) {
	its, ok := l.items(n, path)
	if !ok {
		return nil, false
	}
	out := make([]string, len(its))
	for i, it := range its {
		out[i] = it.val
		ok = ok && it.ok
	}
	return out, ok
}

// nonEmpty reports an empty value, pointing at a likely cause: a ${VAR:-}
// default that expanded to nothing.
func (l *loader) nonEmpty(n *yaml.Node, path, what, s string) bool {
	if s != "" {
		return true
	}
	if v := resolve(n); v != nil && strings.Contains(v.Value, "${") {
		l.problem(n, path, "%s is empty: %q expanded to an empty string (an unset variable with an empty default?)", what, v.Value)
	} else {
		l.problem(n, path, "%s is empty", what)
	}
	return false
}

func (l *loader) duration(n *yaml.Node, path string) (time.Duration, bool) {
	s, ok := l.str(n, path)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		if _, e := strconv.ParseFloat(s, 64); e == nil {
			l.problem(n, path, "duration %q has no unit: write %ss (units: ms, s, m, h)", s, s)
		} else {
			l.problem(n, path, "invalid duration %q: write a number with a unit, like 500ms, 30s, 5m or 1h", s)
		}
		return 0, false
	}
	return d, true
}

// timeout is a duration that must be greater than zero.
func (l *loader) timeout(n *yaml.Node, path string) (time.Duration, bool) {
	d, ok := l.duration(n, path)
	if ok && d <= 0 {
		l.problem(n, path, "must be greater than 0, like 10s")
		return 0, false
	}
	return d, ok
}

// nonNegative is a duration that may be zero.
func (l *loader) nonNegative(n *yaml.Node, path string) (time.Duration, bool) {
	d, ok := l.duration(n, path)
	if ok && d < 0 {
		l.problem(n, path, "must not be negative")
		return 0, false
	}
	return d, ok
}

// size is a byte size greater than zero and at most max.
func (l *loader) size(n *yaml.Node, path string, max int64) (int64, bool) {
	s, ok := l.str(n, path)
	if !ok {
		return 0, false
	}
	v, err := ParseSize(s)
	switch {
	case err != nil:
		l.problem(n, path, "%v", err)
		return 0, false
	case v <= 0:
		l.problem(n, path, "must be greater than 0, like 64KiB")
		return 0, false
	case v > max:
		l.problem(n, path, "%s is too large (at most %d bytes)", s, max)
		return 0, false
	}
	return v, true
}

// count is a whole number greater than zero and at most max.
func (l *loader) count(n *yaml.Node, path string, max int64) (int, bool) {
	return l.whole(n, path, 1, max)
}

// countOrZero is count for limits where 0 means "no limit".
func (l *loader) countOrZero(n *yaml.Node, path string, max int64) (int, bool) {
	return l.whole(n, path, 0, max)
}

// whole parses a whole number in [min, max].
func (l *loader) whole(n *yaml.Node, path string, min, max int64) (int, bool) {
	s, ok := l.str(n, path)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	switch {
	case err != nil:
		l.problem(n, path, "expected a whole number, found %q", s)
		return 0, false
	case v < min && min == 1:
		l.problem(n, path, "must be greater than 0")
		return 0, false
	case v < min:
		l.problem(n, path, "must be %d or more", min)
		return 0, false
	case v > max:
		l.problem(n, path, "%d is too large (at most %d)", v, max)
		return 0, false
	}
	return int(v), true
}

func (l *loader) boolean(n *yaml.Node, path string) (bool, bool) {
	s, ok := l.str(n, path)
	if !ok {
		return false, false
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	l.problem(n, path, "expected true or false, found %q", s)
	return false, false
}

// oneOf is a string from a fixed set; what names the kind of value.
func (l *loader) oneOf(n *yaml.Node, path, what string, allowed ...string) (string, bool) {
	s, ok := l.str(n, path)
	if !ok {
		return "", false
	}
	for _, a := range allowed {
		if s == a {
			return s, true
		}
	}
	l.problem(n, path, "unknown %s %q (choose one of: %s)", what, s, strings.Join(allowed, ", "))
	return "", false
}
