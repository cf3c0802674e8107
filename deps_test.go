package agentbridge_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/connic"
	"github.com/agentbridge/agentbridge/translators/plain"
	"github.com/agentbridge/agentbridge/translators/wiro"
)

// TestImportRules enforces the layering of DESIGN.md: codecs are pure, the
// canonical model depends on nothing, the proxy knows no concrete dialect.
func TestImportRules(t *testing.T) {
	rules := []struct {
		pkg    string
		banned []string
		stdOK  bool // only the standard library (and listed module packages) allowed
		allow  []string
	}{
		{pkg: "./translators", stdOK: true},
		{pkg: "./translators/plain", stdOK: true, allow: []string{"translators", "internal/jsonx"},
			banned: []string{"net", "net/http", "encoding/json", "reflect", "os"}},
		{pkg: "./internal/jsonx", stdOK: true},
		// The test-only fifth dialect needs nothing but the contract.
		{pkg: "./translators/translatorstest/linetest", stdOK: true, allow: []string{"agentbridge/translators"}},
		{pkg: "./demo", stdOK: true, allow: []string{"translators"}},
		{pkg: "./internal/redact", stdOK: true},
		// config knows dialects only through the table it is given.
		{pkg: "./config", stdOK: true, allow: []string{"gopkg.in/yaml.v3", "internal/redact", "agentbridge/translators"},
			banned: []string{
				"github.com/agentbridge/agentbridge/translators/plain",
				"github.com/agentbridge/agentbridge/translators/connic",
				"github.com/agentbridge/agentbridge/translators/wiro",
			}},
		{pkg: "./proxy", banned: []string{
			"github.com/agentbridge/agentbridge/translators/plain",
			"github.com/agentbridge/agentbridge/demo",
			"github.com/agentbridge/agentbridge/config",
			"gopkg.in/yaml.v3", "flag", "testing"}},
		{pkg: "./cmd/agentbridge", banned: []string{"testing"}},
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}|{{.ImportPath}}", r.pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", r.pkg, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			nonStd, path, _ := strings.Cut(line, "|")
			for _, b := range r.banned {
				if path == b {
					t.Errorf("%s imports %s", r.pkg, b)
				}
			}
			if !r.stdOK || nonStd == "" || path == "github.com/agentbridge/agentbridge/"+strings.TrimPrefix(r.pkg, "./") {
				continue
			}
			ok := false
			for _, a := range r.allow {
				if strings.HasSuffix(path, a) || strings.HasPrefix(path, a) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s may import only the standard library and %v, but depends on %s", r.pkg, r.allow, path)
			}
		}
	}
}

// TestNoDialectNames: the configuration and build.go know dialects only
// through the table, so adding one touches neither: no quoted dialect name
// appears in their code (demo, built in, is not a table dialect).
func TestNoDialectNames(t *testing.T) {
	files, _ := filepath.Glob("config/*.go")
	files = append(files, "cmd/agentbridge/build.go")
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []translators.Dialect{plain.Dialect, connic.Dialect, wiro.Dialect} {
			if strings.Contains(string(src), `"`+d.Name+`"`) {
				t.Errorf("%s names dialect %q: describe what it needs in the dialect's descriptor instead", path, d.Name)
			}
		}
	}
}
