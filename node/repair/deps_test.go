package repair

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDeps keeps the repairer behind its interfaces: it reaches the meta
// group, the state machine and storage only through what the meta role
// hands it.
func TestDeps(t *testing.T) {
	const m = depstest.Module
	depstest.Forbid(t, depstest.Deps(t), m+"node/meta", m+"node/gateway", m+"node/storage", m+"metadata",
		"github.com/cockroachdb/pebble", "github.com/hashicorp/raft")
}
