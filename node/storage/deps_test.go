package storage

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDeps enforces the dependency rules of the design: the storage role
// never imports another role or the metadata layer.
func TestDeps(t *testing.T) {
	const m = depstest.Module
	depstest.Forbid(t, depstest.Deps(t), m+"node/gateway", m+"node/meta", m+"metadata", m+"node/vfs/faultfs", m+"node/vfs/crashfs")
}
