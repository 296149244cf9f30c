package chaos

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/cairn-io/cairn/node/depstest"
)

// TestOnlyTestsImportChaos enforces the package's role: a test-support
// library that no product package imports (only _test.go files may).
func TestOnlyTestsImportChaos(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not available")
	}
	const self = depstest.Module + "node/chaos"
	out, err := exec.Command(goBin, "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, depstest.Module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == self {
			continue
		}
		for _, imp := range f[1:] {
			if imp == self || strings.HasPrefix(imp, self+"/") {
				t.Errorf("%s imports %s outside its tests", f[0], imp)
			}
		}
	}
}
