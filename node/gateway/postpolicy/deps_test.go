package postpolicy

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDeps keeps the package pure: it imports nothing of Cairn.
func TestDeps(t *testing.T) {
	depstest.OnlyCairn(t, depstest.Deps(t))
}
