package config

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// index remembers where every key and value of the document sits, by path
// ("routes[1].backend"), so that messages about missing keys and about
// whole sections can still name a line.
type index struct {
	paths  []string
	keys   map[string]*yaml.Node
	vals   map[string]*yaml.Node
	byLine map[int][]string // paths whose key or value starts on a line
}

func (x *index) build(root *yaml.Node) {
	x.keys = map[string]*yaml.Node{}
	x.vals = map[string]*yaml.Node{}
	x.byLine = map[int][]string{}
	x.walk("", nil, root)
}

func (x *index) walk(path string, key, n *yaml.Node) {
	x.paths = append(x.paths, path)
	x.byLine[n.Line] = append(x.byLine[n.Line], path)
	if key != nil {
		x.keys[path] = key
		if key.Line != n.Line {
			x.byLine[key.Line] = append(x.byLine[key.Line], path)
		}
	}
	x.vals[path] = n
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			x.walk(join(path, k.Value), k, n.Content[i+1])
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			x.walk(fmt.Sprintf("%s[%d]", path, i), nil, c)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// pos returns the line and column of path's key, or of its value, or of the
// nearest enclosing path that exists.
func (x *index) pos(path string) (line, col int) {
	for {
		if n := x.keys[path]; n != nil {
			return n.Line, n.Column
		}
		if n := x.vals[path]; n != nil {
			return n.Line, n.Column
		}
		if path == "" {
			return 0, 0
		}
		path = parent(path)
	}
}

func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// findKey finds the key named name on line.
func (x *index) findKey(line int, name string) (path string, col int) {
	for _, p := range x.byLine[line] {
		if k := x.keys[p]; k != nil && k.Line == line && k.Value == name {
			path, col = p, k.Column
		}
	}
	return path, col
}

// findValue finds the first value on line with the given tag.
func (x *index) findValue(line int, tag string) (string, *yaml.Node) {
	for _, p := range x.byLine[line] {
		if n := x.vals[p]; n != nil && n.Line == line && n.ShortTag() == tag {
			return p, n
		}
	}
	return "", nil
}
