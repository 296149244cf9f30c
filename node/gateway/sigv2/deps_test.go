package sigv2

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDeps keeps the package pure: from Cairn it may import only sigv4 (for
// its sentinels and Credentials) and what sigv4 imports.
func TestDeps(t *testing.T) {
	depstest.OnlyCairn(t, depstest.Deps(t), "node/gateway/sigv4", "node/gateway/checksum")
}
