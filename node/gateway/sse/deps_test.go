package sse

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDependencies keeps the package pure: no other Cairn package but the
// pure node/keyseal, no network, no files.
func TestDependencies(t *testing.T) {
	imports := depstest.Imports(t)
	depstest.OnlyCairn(t, imports, "node/keyseal")
	depstest.Forbid(t, imports, "os", "net")
}
