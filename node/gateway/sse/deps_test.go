package sse

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDependencies keeps the package pure: no other Cairn package, no
// network, no files.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, imp := range strings.Fields(string(out)) {
		require.False(t, strings.HasPrefix(imp, "github.com/cairn-io/"), "sse imports %s", imp)
		require.NotContains(t, []string{"os", "net", "net/http"}, imp)
	}
}
