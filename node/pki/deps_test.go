package pki

import (
	"strings"
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestDeps keeps the identity layer free of Cairn packages and of gRPC: it
// is plain crypto/tls and x509, usable by every transport.
func TestDeps(t *testing.T) {
	for _, p := range depstest.Deps(t) {
		if strings.HasPrefix(p, depstest.Module) || strings.HasPrefix(p, "google.golang.org/grpc") {
			t.Errorf("forbidden dependency %s", p)
		}
	}
}
