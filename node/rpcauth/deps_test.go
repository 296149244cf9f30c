package rpcauth

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDeps keeps the authorization table below every role: servers of all
// roles install it.
func TestDeps(t *testing.T) {
	const m = depstest.Module
	depstest.Forbid(t, depstest.Deps(t), m+"node/gateway", m+"node/storage", m+"node/meta",
		m+"node/objio", m+"metadata", m+"node/server")
}
