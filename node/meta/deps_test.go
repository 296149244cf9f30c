package meta

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDependencies enforces the import rules in the package doc: roles
// never import each other.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/cairn-io/cairn/node/meta").CombinedOutput()
	require.NoError(t, err, string(out))
	forbidden := []string{
		"github.com/cairn-io/cairn/node/gateway",
		"github.com/cairn-io/cairn/node/storage",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			require.False(t, dep == f || strings.HasPrefix(dep, f+"/"), "forbidden dependency %s", dep)
		}
	}
}
