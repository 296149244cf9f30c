package metadata

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDependencies enforces the import rules of the metadata layer. Direct
// imports are checked for forbidden standard and third-party packages
// (Pebble, Raft and the generated gRPC stubs in metapb pull some of them in
// transitively, which is outside this package's control); the full
// dependency graph is checked for forbidden Cairn packages.
func TestDependencies(t *testing.T) {
	const m = depstest.Module
	pkgs := []string{m + "metadata", m + "metadata/keys"}
	depstest.Forbid(t, depstest.Imports(t, pkgs...), "net/http", "google.golang.org/grpc", m+"node", m+"erasure")
	depstest.Forbid(t, depstest.Deps(t, pkgs...), m+"node", m+"erasure", m+"cmd")
}
