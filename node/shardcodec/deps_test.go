package shardcodec

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDeps keeps the codec a leaf: of Cairn it may import only the storage
// protocol, so both roles of the data path can use it.
func TestDeps(t *testing.T) {
	const mod = "github.com/cairn-io/cairn/"
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	require.NoError(t, err)
	for _, dep := range strings.Fields(string(out)) {
		rel, ok := strings.CutPrefix(dep, mod)
		if !ok || rel == "node/shardcodec" {
			continue
		}
		require.Equal(t, "proto/storagepb", rel, "node/shardcodec imports %s", dep)
	}
}
