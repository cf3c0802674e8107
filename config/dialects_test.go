package config

import (
	"github.com/agentbridge/agentbridge/translators"
	"github.com/agentbridge/agentbridge/translators/connic"
	"github.com/agentbridge/agentbridge/translators/plain"
	"github.com/agentbridge/agentbridge/translators/wiro"
)

// testDialects is the program's table (cmd/agentbridge/dialects.go), which
// the testdata files are written for. Only tests import dialect packages.
var testDialects = []translators.Dialect{plain.Dialect, connic.Dialect, wiro.Dialect}
