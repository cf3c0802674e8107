package agentbridge_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/connic"
	"github.com/agentbridge/agentbridge/translators/plain"
	"github.com/agentbridge/agentbridge/translators/wiro"
)

// TestImportRules enforces the layering: codecs are pure (no network
// package), the canonical model depends on nothing, neither the proxy (any
// of its packages) nor the configuration knows a concrete dialect, and the
// proxy's internal packages depend only on what their layer needs.
func TestImportRules(t *testing.T) {
	const mod = "github.com/agentbridge/agentbridge/"
	// The dialects: no package of the proxy or the configuration may know
	// one by name (they are wired in cmd/agentbridge).
	dialects := []string{mod + "translators/plain", mod + "translators/connic", mod + "translators/wiro", mod + "translators/agents", mod + "translators/openhands", mod + "demo"}
	// What a codec must not reach: codecs are pure functions of bytes.
	network := []string{"net", "net/http", "net/netip", "crypto/tls", "github.com/gobwas/ws",
		"github.com/valyala/fasthttp", "golang.org/x/sys/unix", mod + "proxy"}
	rules := []struct {
		pkg    string
		banned []string
		stdOK  bool // only the standard library (and listed module packages) allowed
		allow  []string
	}{
		{pkg: "./translators", stdOK: true},
		{pkg: "./translators/plain", stdOK: true, allow: []string{"translators", "internal/jsonx"},
			banned: []string{"net", "net/http", "encoding/json", "reflect", "os"}},
		{pkg: "./translators/...", banned: network},
		{pkg: "./internal/jsonx", stdOK: true},
		// The test-only fifth dialect needs nothing but the contract.
		{pkg: "./translators/translatorstest/linetest", stdOK: true, allow: []string{"agentbridge/translators"}},
		{pkg: "./demo", stdOK: true, allow: []string{"translators"}},
		{pkg: "./internal/redact", stdOK: true},
		// config knows dialects only through the table it is given.
		{pkg: "./config", stdOK: true, allow: []string{"gopkg.in/yaml.v3", "internal/redact", "agentbridge/translators"}, banned: dialects},
		{pkg: "./proxy/...", banned: append([]string{
			mod + "config",
			"gopkg.in/yaml.v3", "flag", "testing"}, dialects...)},
		// The connection layer knows frames and sockets, not sessions,
		// routes or dialects; the poller knows only descriptors.
		{pkg: "./proxy/internal/wsconn", stdOK: true, allow: []string{"github.com/gobwas/", "golang.org/x/sys/unix", mod + "proxy/internal/netpoll"}},
		{pkg: "./proxy/internal/netpoll", stdOK: true, allow: []string{"golang.org/x/sys/unix"}},
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

// TestProxyKnowsNoWire: the proxy drives REST dialects through
// translators.REST and the canonical ReplyStatus, so none of its code (any
// package under proxy/, tests aside) spells a dialect's wire words, not
// even in comments: Wiro's token and id fields and its message types and
// statuses (every "agent_" word).
func TestProxyKnowsNoWire(t *testing.T) {
	words := regexp.MustCompile(`(?i)agenttoken|useragentguid|messageguid|\bagent_[a-z]+|"secret"`)
	err := filepath.WalkDir("proxy", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			if w := words.FindString(line); w != "" {
				t.Errorf("%s:%d: %q is a dialect's wire word: take it from the dialect's descriptor", path, i+1, w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
