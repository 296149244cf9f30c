package raftlog

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDependencies enforces the import rules in the package doc. net/http
// is checked on direct imports only: pebble and raft link it in
// transitively, but this package must not use it.
func TestDependencies(t *testing.T) {
	depstest.Forbid(t, depstest.Deps(t), depstest.Module+"node", "google.golang.org/grpc")
	depstest.Forbid(t, depstest.Imports(t), "net/http")
}
