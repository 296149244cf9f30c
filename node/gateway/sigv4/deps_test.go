package sigv4

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDeps keeps the package pure: from Cairn it may import only checksum.
func TestDeps(t *testing.T) {
	depstest.OnlyCairn(t, depstest.Deps(t), "node/gateway/checksum")
}
