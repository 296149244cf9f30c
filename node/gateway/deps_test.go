package gateway

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDependencies keeps the gateway a client of the other roles: it
// reaches storage and meta only through their gRPC clients.
func TestDependencies(t *testing.T) {
	const m = depstest.Module
	depstest.Forbid(t, depstest.Deps(t, "./..."), m+"node/storage", m+"node/meta", m+"metadata",
		"github.com/cockroachdb/pebble", "github.com/hashicorp/raft")
}
