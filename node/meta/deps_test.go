package meta

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDependencies enforces the import rules in the package doc: roles
// never import each other.
func TestDependencies(t *testing.T) {
	depstest.Forbid(t, depstest.Deps(t), depstest.Module+"node/gateway", depstest.Module+"node/storage")
}
