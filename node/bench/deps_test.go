package bench

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDependencies enforces that the benchmark drives a cluster of
// processes from outside, as a user's load generator does: it links no
// role, no storage engine and no data-path code, only node/devcluster
// (and what that needs to probe readiness).
func TestDependencies(t *testing.T) {
	const m = depstest.Module
	depstest.Forbid(t, depstest.Deps(t),
		m+"node/gateway", m+"node/storage", m+"node/meta", m+"node/objio", m+"node/server",
		m+"metadata", m+"erasure", m+"placement", m+"cmd",
		"github.com/cockroachdb/pebble", "github.com/hashicorp/raft")
	depstest.OnlyCairn(t, depstest.Imports(t), "node/devcluster")
}
