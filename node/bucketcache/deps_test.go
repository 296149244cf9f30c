package bucketcache

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDeps keeps the cache below the roles: it knows the meta protocol and
// nothing that owns state.
func TestDeps(t *testing.T) {
	const m = depstest.Module
	depstest.Forbid(t, depstest.Deps(t), m+"node/storage", m+"node/meta", m+"node/gateway", m+"metadata",
		"github.com/cockroachdb/pebble", "github.com/hashicorp/raft")
}
