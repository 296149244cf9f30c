package crashfs

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDeps keeps crashfs a leaf beside vfs: it may import node/vfs and
// nothing else from Cairn, so that any role's tests can use it.
func TestDeps(t *testing.T) {
	depstest.OnlyCairn(t, depstest.Deps(t), "node/vfs")
}
