package gateway

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDependencies keeps the gateway a client of the other roles: it
// reaches storage and meta only through their gRPC clients.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").CombinedOutput()
	require.NoError(t, err, string(out))
	forbidden := []string{
		"github.com/cairn-io/cairn/node/storage",
		"github.com/cairn-io/cairn/node/meta",
		"github.com/cairn-io/cairn/metadata",
		"github.com/cockroachdb/pebble",
		"github.com/hashicorp/raft",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			require.False(t, dep == f || strings.HasPrefix(dep, f+"/"), "node/gateway/... imports %s", dep)
		}
	}
}
