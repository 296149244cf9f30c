package console

import (
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDeps keeps the console a client of the public S3 API and the meta
// service: the S3 handler and the meta client come in as interfaces.
func TestDeps(t *testing.T) {
	const m = depstest.Module
	depstest.Forbid(t, depstest.Deps(t), m+"node/gateway", m+"node/storage", m+"node/meta",
		m+"node/objio", m+"node/metaclient", m+"metadata", m+"node/server", m+"erasure", m+"placement")
}
