package observe

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDeps keeps observe below the roles, which all import it.
func TestDeps(t *testing.T) {
	const m = depstest.Module
	depstest.Forbid(t, depstest.Deps(t), m+"node/gateway", m+"node/storage", m+"node/meta",
		m+"node/objio", m+"metadata", m+"node/server", m+"node/dial")
}
