package lifecycle

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDeps: the worker sees the metadata through Store only; from Cairn it
// imports the protocol alone.
func TestDeps(t *testing.T) {
	depstest.OnlyCairn(t, depstest.Deps(t), "proto/metapb")
}
