package main

import (
	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/agents"
	"github.com/agentbridge/agentbridge/translators/connic"
	"github.com/agentbridge/agentbridge/translators/openhands"
	"github.com/agentbridge/agentbridge/translators/plain"
	"github.com/agentbridge/agentbridge/translators/wiro"
)

// dialects is the one table of wire dialects compiled in, and the only
// place that imports concrete dialect packages. A dialect is one line here:
// its descriptor carries its codecs, its configuration keys and how they
// resolve, so neither config/ nor build.go names it. Configuration
// messages list the dialects in this order.
var dialects = []translators.Dialect{
	plain.Dialect,
	connic.Dialect,
	wiro.Dialect,
	agents.Dialect,
	openhands.Dialect,
}
