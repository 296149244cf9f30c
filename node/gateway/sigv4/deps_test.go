package sigv4

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDeps keeps the package pure: from Cairn it may import only checksum.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err)
	const module = "github.com/cairn-io/cairn/"
	allowed := map[string]bool{
		module + "node/gateway/sigv4":    true,
		module + "node/gateway/checksum": true,
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, module) && !allowed[pkg] {
			t.Errorf("sigv4 imports %s", pkg)
		}
	}
}
