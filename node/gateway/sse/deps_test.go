package sse

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDependencies keeps the package pure: no other Cairn package, no
// network, no files.
func TestDependencies(t *testing.T) {
	imports := depstest.Imports(t)
	depstest.OnlyCairn(t, imports)
	depstest.Forbid(t, imports, "os", "net")
}
