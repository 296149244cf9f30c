package keyseal

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDependencies keeps keyseal a leaf: pure crypto, no Cairn package, no
// I/O.
func TestDependencies(t *testing.T) {
	const m = depstest.Module
	depstest.Forbid(t, depstest.Imports(t, m+"node/keyseal"), "os", "net", "time")
	depstest.Forbid(t, depstest.Deps(t, m+"node/keyseal"), m+"node", m+"metadata", m+"proto", "google.golang.org/grpc")
}
