package agents_test

import (
	"testing"

	"github.com/agentbridge/agentbridge/translators/agents"
	"github.com/agentbridge/agentbridge/translators/translatorstest"
)

func TestGolden(t *testing.T) {
	translatorstest.RunGolden(t, agents.Dialect, "testdata")
}
