package config

import (
	"fmt"
	"strings"
)

// expand replaces ${VAR} and ${VAR:-default} in s with values from lookup.
// The default is used when VAR is unset or empty, as in a POSIX shell. "$$"
// stands for one literal "$"; any other "$" is kept as is. It returns one
// message per problem, so a value naming two unset variables reports both.
func expand(s string, lookup func(string) (string, bool)) (string, []string) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var (
		b    strings.Builder
		errs []string
	)
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
			continue
		case '{':
		default:
			b.WriteByte(c)
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			errs = append(errs, fmt.Sprintf("unterminated %q: write ${NAME} or ${NAME:-default} (use $$ for a literal $)", s[i:]))
			b.WriteString(s[i:])
			break
		}
		ref := s[i : i+2+end+1]  // ${...}
		body := s[i+2 : i+2+end] // NAME or NAME:-default
		i += 2 + end + 1
		name, def, hasDef := strings.Cut(body, ":-")
		if !validVarName(name) {
			errs = append(errs, fmt.Sprintf("invalid variable reference %q: write ${NAME} or ${NAME:-default}, where NAME is letters, digits and _ (use $$ for a literal $)", ref))
			continue
		}
		v, ok := lookup(name)
		switch {
		case hasDef && v == "":
			b.WriteString(def)
		case ok:
			b.WriteString(v)
		default:
			errs = append(errs, fmt.Sprintf("environment variable %s is not set (export it, or write ${%s:-default} to give a default)", name, name))
		}
	}
	return b.String(), errs
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
