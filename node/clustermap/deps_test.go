package clustermap

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDeps keeps the cache below the roles: it may know placement and the
// meta protocol, nothing that owns state. net/http is checked among direct
// imports only, because gRPC itself depends on it.
func TestDeps(t *testing.T) {
	deps := goList(t, "{{join .Deps \"\\n\"}}")
	direct := goList(t, "{{join .Imports \"\\n\"}}")
	forbidden := []string{
		"github.com/cairn-io/cairn/node/storage",
		"github.com/cairn-io/cairn/node/meta",
		"github.com/cairn-io/cairn/node/gateway",
		"github.com/cairn-io/cairn/metadata",
		"github.com/cockroachdb/pebble",
		"github.com/hashicorp/raft",
	}
	for _, dep := range deps {
		for _, f := range forbidden {
			require.False(t, dep == f || strings.HasPrefix(dep, f+"/"), "forbidden dependency %s", dep)
		}
	}
	require.NotContains(t, direct, "net/http")
}

func goList(t *testing.T, format string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", format, ".").Output()
	require.NoError(t, err)
	return strings.Fields(string(out))
}
