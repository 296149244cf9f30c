package clustermap

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDeps keeps the cache below the roles: it may know placement and the
// meta protocol, nothing that owns state. net/http is checked among direct
// imports only, because gRPC itself depends on it.
func TestDeps(t *testing.T) {
	const m = depstest.Module
	depstest.Forbid(t, depstest.Deps(t), m+"node/storage", m+"node/meta", m+"node/gateway", m+"metadata",
		"github.com/cockroachdb/pebble", "github.com/hashicorp/raft")
	depstest.Forbid(t, depstest.Imports(t), "net/http")
}
