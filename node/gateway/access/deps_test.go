package access_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDeps keeps the package pure: from Cairn it imports only the proto
// records, and it never reaches the network or the disk.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err)
	const module = "github.com/cairn-io/cairn/"
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, module) && pkg != module+"node/gateway/access" && pkg != module+"proto/metapb" {
			t.Errorf("access imports %s", pkg)
		}
		require.NotEqual(t, "os/exec", pkg)
	}
}
