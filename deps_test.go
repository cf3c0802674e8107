package agentbridge_test

import (
	"os/exec"
	"strings"
	"testing"
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
		{pkg: "./demo", stdOK: true, allow: []string{"translators"}},
		{pkg: "./internal/redact", stdOK: true},
		{pkg: "./config", stdOK: true, allow: []string{"gopkg.in/yaml.v3", "internal/redact"}},
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
