package raftlog

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDependencies enforces the import rules in the package doc. net/http
// is checked on direct imports only: pebble and raft link it in
// transitively, but this package must not use it.
func TestDependencies(t *testing.T) {
	const pkg = "github.com/cairn-io/cairn/metadata/raftlog"
	out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
	require.NoError(t, err, string(out))
	for _, dep := range strings.Fields(string(out)) {
		require.False(t, strings.HasPrefix(dep, "github.com/cairn-io/cairn/node/"), "forbidden dependency %s", dep)
		require.False(t, strings.HasPrefix(dep, "google.golang.org/grpc"), "forbidden dependency %s", dep)
	}
	out, err = exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, pkg).CombinedOutput()
	require.NoError(t, err, string(out))
	for _, imp := range strings.Fields(string(out)) {
		require.NotEqual(t, "net/http", imp, "forbidden import")
	}
}
