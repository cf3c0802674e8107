package main

import (
	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/connic"
	"github.com/agentbridge/agentbridge/translators/plain"
	"github.com/agentbridge/agentbridge/translators/wiro"
)

// dialects is the one table of wire dialects compiled in: the only place
// that imports concrete dialect packages.
var dialects = map[string]translators.Dialect{
	plain.Dialect.Name:  plain.Dialect,
	connic.Dialect.Name: connic.Dialect,
	wiro.Dialect.Name:   wiro.Dialect,
}
