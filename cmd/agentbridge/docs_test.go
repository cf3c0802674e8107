package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocumentedConfigsValidate checks every YAML block of the README and
// every example configuration with `agentbridge validate`, as a user who
// copies one would: a documented configuration that does not load is a bug.
func TestDocumentedConfigsValidate(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := yamlBlocks(string(readme))
	if len(blocks) < 2 {
		t.Fatalf("found %d YAML blocks in README.md; the extractor is broken", len(blocks))
	}
	docs := map[string]string{}
	for i, b := range blocks {
		docs[fmt.Sprintf("README.md block %d (line %d)", i+1, b.line)] = b.text
	}
	examples, _ := filepath.Glob("../../examples/*/config.yaml")
	if len(examples) < 5 {
		t.Fatalf("found %d examples/*/config.yaml; want one per deployment the README promises", len(examples))
	}
	for _, p := range append(examples, "../../config.yaml") {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		docs[p] = string(data)
	}
	// examples/tls names cert.pem and key.pem in the working directory.
	dir := t.TempDir()
	writeSelfSigned(t, dir)
	t.Chdir(dir)
	for name, text := range docs {
		t.Run(name, func(t *testing.T) {
			// Variables without a default must be set, as a user would.
			for _, m := range reRequiredVar.FindAllStringSubmatch(text, -1) {
				t.Setenv(m[1], "documented-config-test-value-0123456789abcdef")
			}
			p := filepath.Join(dir, "c.yaml")
			if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if code := run(context.Background(), []string{"validate", "-config", p}, &out, &out); code != 0 {
				t.Errorf("validate exited %d:\n%s\n--- the configuration:\n%s", code, out.String(), text)
			}
		})
	}
}

var reRequiredVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

type mdBlock struct {
	text string
	line int // of the block's first line
}

// yamlBlocks returns the fenced ```yaml blocks of a Markdown text.
func yamlBlocks(md string) []mdBlock {
	var out []mdBlock
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```yaml" {
			continue
		}
		start := i + 1
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
		}
		out = append(out, mdBlock{strings.Join(lines[start:i], "\n") + "\n", start + 1})
	}
	return out
}
