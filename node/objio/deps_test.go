package objio

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDeps keeps the data path free of HTTP and of every role: the
// gateway, the repairer and drain all use it. net/http is checked among direct imports only, because gRPC itself
// depends on it.
func TestDeps(t *testing.T) {
	const m = depstest.Module
	depstest.Forbid(t, depstest.Deps(t), m+"node/gateway", m+"node/storage", m+"node/meta", m+"metadata",
		"github.com/cockroachdb/pebble", "github.com/hashicorp/raft")
	depstest.Forbid(t, depstest.Imports(t), "net/http")
}
