package metadata

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDependencies enforces the import rules of the metadata layer. Direct
// imports are checked for forbidden standard and third-party packages
// (Pebble, Raft and the generated gRPC stubs in metapb pull some of them in
// transitively, which is outside this package's control); the full
// dependency graph is checked for forbidden Cairn packages.
func TestDependencies(t *testing.T) {
	const module = "github.com/cairn-io/cairn/"
	forbiddenDirect := []string{"net/http", "google.golang.org/grpc", module + "node", module + "erasure"}
	forbiddenAny := []string{module + "node", module + "erasure", module + "cmd"}

	pkgs := []string{module + "metadata", module + "metadata/keys"}
	direct := goList(t, append([]string{"-f", `{{join .Imports "\n"}}`}, pkgs...)...)
	all := goList(t, append([]string{"-deps", "-f", "{{.ImportPath}}"}, pkgs...)...)
	require.Contains(t, all, "github.com/cockroachdb/pebble", "dependency listing looks wrong")

	for _, pkg := range direct {
		for _, bad := range forbiddenDirect {
			require.False(t, pkg == bad || strings.HasPrefix(pkg, bad+"/"), "metadata imports %s", pkg)
		}
	}
	for _, pkg := range all {
		for _, bad := range forbiddenAny {
			require.False(t, pkg == bad || strings.HasPrefix(pkg, bad+"/"), "metadata depends on %s", pkg)
		}
	}
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	require.NoError(t, err, "go list %v", args)
	return strings.Fields(string(out))
}
