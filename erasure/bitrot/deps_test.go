package bitrot

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDependencies keeps the package pure: it must stay free of Cairn's
// other packages and of the RPC, storage and consensus stacks.
func TestDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not available")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	require.NoError(t, err)
	const self = "github.com/cairn-io/cairn/erasure/bitrot"
	require.Contains(t, strings.Fields(string(out)), self, "go list output must name the package")
	forbidden := []string{
		"github.com/cairn-io/cairn",
		"google.golang.org/grpc",
		"google.golang.org/protobuf",
		"github.com/cockroachdb/pebble",
		"github.com/hashicorp/raft",
		"net",
	}
	for dep := range strings.FieldsSeq(string(out)) {
		if dep == self {
			continue
		}
		for _, f := range forbidden {
			require.False(t, dep == f || strings.HasPrefix(dep, f+"/"),
				"%s must not depend on %s", self, dep)
		}
	}
}
