package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/agentbridge/agentbridge/translators"
)

// Load reads, expands, validates and defaults the configuration file at
// path. Problems in the file are returned together as one *Error.
//
// dialects is the program's dialect table: the dialects routes and
// backends may name (besides the built-in demo backend), in the order
// messages list them, with the keys each declares. A table that declares
// keys wrongly is an error of its own, not an *Error.
func Load(path string, dialects []translators.Dialect) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data, dialects)
}

// Parse is Load for data already in memory; name is used in messages.
// ${VAR} references are expanded from the process environment.
func Parse(name string, data []byte, dialects []translators.Dialect) (*File, error) {
	return parse(name, data, os.LookupEnv, dialects)
}

// parse is Parse with the environment given, for tests.
func parse(name string, data []byte, lookup func(string) (string, bool), dialects []translators.Dialect) (*File, error) {
	if err := checkTable(dialects); err != nil {
		return nil, err
	}
	l := &loader{file: name, lookup: lookup, dialects: dialects}
	raw := l.decode(data)
	if raw == nil {
		return nil, l.err()
	}
	f := l.build(raw)
	if len(l.probs) > 0 {
		return nil, l.err()
	}
	f.Warnings = sortProblems(l.warns)
	return f, nil
}

// loader collects problems while it turns a raw file into a File.
type loader struct {
	file     string
	lookup   func(string) (string, bool)
	dialects []translators.Dialect
	idx      index
	probs    []Problem
	warns    []Problem // problems that do not stop the file from loading
}

func (l *loader) err() error {
	return &Error{Problems: sortProblems(l.probs)}
}

// problem reports msg about the value node n, found at path.
func (l *loader) problem(n *yaml.Node, path, format string, args ...any) {
	p := Problem{File: l.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil && n.Line > 0 {
		p.Line, p.Col = n.Line, n.Column
	} else {
		p.Line, p.Col = l.idx.pos(path)
	}
	l.probs = append(l.probs, p)
}

// warn records msg about the value node n as a warning: the file still
// loads.
func (l *loader) warn(n *yaml.Node, path, format string, args ...any) {
	n0 := len(l.probs)
	l.problem(n, path, format, args...)
	l.warns = append(l.warns, l.probs[n0])
	l.probs = l.probs[:n0]
}

// at reports msg about the key at path (or, when the key is absent, the
// nearest enclosing key that is present).
func (l *loader) at(path, format string, args ...any) {
	l.problem(nil, path, format, args...)
}

var (
	reLine       = regexp.MustCompile(`^line (\d+): (.*)$`)
	reUnknown    = regexp.MustCompile(`^field (.+) not found in type (\S+)$`)
	reSetTwice   = regexp.MustCompile(`^field (.+) already set in type (\S+)$`)
	reDuplicate  = regexp.MustCompile(`^mapping key "(.*)" already defined at line (\d+)$`)
	reWrongKind  = regexp.MustCompile("^cannot unmarshal (!!\\w+)(?: `.*`)? into (\\S+)$")
	reSyntaxLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// decode parses data into the raw schema, reporting YAML syntax errors,
// unknown keys and values of the wrong shape. It returns nil when the
// problems found make further checks meaningless.
func (l *loader) decode(data []byte) *rawFile {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p := Problem{File: l.file, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
		if m := reSyntaxLine.FindStringSubmatch(err.Error()); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Msg = "invalid YAML: " + m[2]
		}
		l.probs = append(l.probs, p)
		return nil
	}
	if len(doc.Content) == 0 {
		l.probs = append(l.probs, Problem{File: l.file, Msg: `the file is empty: start it with "version: 1"`})
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		l.problem(root, "", "the top level must be a mapping of keys such as version, listen, auth, backends and routes")
		return nil
	}
	l.idx.build(root)

	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var raw rawFile
	err := dec.Decode(&raw)
	fatal := false
	var te *yaml.TypeError
	switch {
	case errors.As(err, &te):
		for _, e := range te.Errors {
			fatal = l.typeError(e) || fatal
		}
	case err != nil:
		l.probs = append(l.probs, Problem{File: l.file, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")})
		return nil
	}
	var next yaml.Node
	if err := dec.Decode(&next); err != io.EOF {
		l.problem(&next, "", "a second YAML document (after ---) is not allowed: keep the whole configuration in one document")
	}
	if fatal {
		return nil
	}
	return &raw
}

// typeError turns one yaml.v3 decoding message into a Problem. It reports
// whether the problem leaves the raw file incomplete.
func (l *loader) typeError(e string) (fatal bool) {
	m := reLine.FindStringSubmatch(e)
	if m == nil {
		l.probs = append(l.probs, Problem{File: l.file, Msg: e})
		return true
	}
	line, _ := strconv.Atoi(m[1])
	msg := m[2]
	p := Problem{File: l.file, Line: line, Msg: msg}
	if s := reUnknown.FindStringSubmatch(msg); s != nil {
		p.Path, p.Col = l.idx.findKey(line, s[1])
		p.Msg = unknownKey(s[1], s[2])
	} else if s := reSetTwice.FindStringSubmatch(msg); s != nil {
		p.Path, p.Col = l.idx.findKey(line, s[1])
		p.Msg = fmt.Sprintf("key %q is given twice (perhaps once through a << merge)", s[1])
		fatal = true
	} else if s := reDuplicate.FindStringSubmatch(msg); s != nil {
		p.Path, p.Col = l.idx.findKey(line, s[1])
		p.Msg = fmt.Sprintf("duplicate key %q (first written at line %s): each key may appear once", s[1], s[2])
		fatal = true
	} else if s := reWrongKind.FindStringSubmatch(msg); s != nil {
		var n *yaml.Node
		p.Path, n = l.idx.findValue(line, s[1])
		if n != nil {
			p.Col = n.Column
		}
		p.Msg = fmt.Sprintf("expected %s, found %s", goTypeShape(s[2]), nodeShape(n, s[1]))
		fatal = true
	} else {
		fatal = true
	}
	l.probs = append(l.probs, p)
	return fatal
}

// unknownKey explains a key the schema does not have.
func unknownKey(key, goType string) string {
	t, ok := rawTypes[goType]
	if !ok {
		return fmt.Sprintf("unknown key %q", key)
	}
	known := keysOf(t)
	if s := closest(key, known); s != "" {
		return fmt.Sprintf("unknown key %q (did you mean %q?)", key, s)
	}
	return fmt.Sprintf("unknown key %q (known keys here: %s)", key, strings.Join(known, ", "))
}

func goTypeShape(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.Contains(t, "config.raw"):
		return "a mapping of keys"
	}
	return t
}

func nodeShape(n *yaml.Node, tag string) string {
	switch tag {
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	}
	if n != nil {
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "a single value"
}

// closest returns the candidate within edit distance 2 of s, if any.
func closest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
