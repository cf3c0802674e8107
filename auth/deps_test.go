package auth

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestDeps keeps the package a leaf: it must not know the proxy, the
// dialects, the HTTP or WebSocket stacks, or YAML.
func TestDeps(t *testing.T) {
	forbidden := []string{
		"github.com/agentbridge/agentbridge/proxy",
		"github.com/agentbridge/agentbridge/translators",
		"github.com/valyala/fasthttp",
		"github.com/gobwas/ws",
		"gopkg.in/yaml",
		"log",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if path == bad || strings.HasPrefix(path, bad+"/") {
					t.Errorf("%s imports %s", f, path)
				}
			}
		}
	}
}
