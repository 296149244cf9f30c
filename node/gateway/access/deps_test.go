package access_test

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDeps keeps the package pure: from Cairn it imports only the proto
// records, and it never runs other programs.
func TestDeps(t *testing.T) {
	deps := depstest.Deps(t)
	depstest.OnlyCairn(t, deps, "proto/metapb")
	depstest.Forbid(t, deps, "os/exec")
}
