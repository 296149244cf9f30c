package storage

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDeps enforces the dependency rules of the design: the storage role
// never imports another role or the metadata layer.
func TestDeps(t *testing.T) {
	const mod = "github.com/cairn-io/cairn/"
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err)
	forbidden := []string{"node/gateway", "node/meta", "metadata", "node/vfs/faultfs"}
	for _, dep := range strings.Fields(string(out)) {
		rel, ok := strings.CutPrefix(dep, mod)
		if !ok {
			continue
		}
		for _, f := range forbidden {
			if rel == f || strings.HasPrefix(rel, f+"/") {
				t.Errorf("node/storage imports %s", dep)
			}
		}
	}
}
