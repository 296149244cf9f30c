package placement

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDependencies keeps the package pure: it must stay free of Cairn's
// other packages and of the RPC, storage and consensus stacks.
func TestDependencies(t *testing.T) {
	deps := depstest.Deps(t)
	depstest.OnlyCairn(t, deps)
	depstest.Forbid(t, deps, "google.golang.org/grpc", "google.golang.org/protobuf",
		"github.com/cockroachdb/pebble", "github.com/hashicorp/raft", "net")
}
