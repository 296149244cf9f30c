package checksum_test

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDeps keeps the package a leaf: it imports nothing from Cairn.
func TestDeps(t *testing.T) {
	depstest.OnlyCairn(t, depstest.Deps(t))
}
