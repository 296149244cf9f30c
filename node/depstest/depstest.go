// Package depstest enforces the import rules of STYLE.md from a package's
// own tests: each constrained package has a deps_test.go that lists what it
// must never depend on. It runs `go list` on the package under test (the
// test's working directory). Import it only from _test.go files.
package depstest

import (
	"os/exec"
	"strings"
	"testing"
)

// Module is the import path prefix of Cairn's packages.
const Module = "github.com/cairn-io/cairn/"

// Deps returns the transitive dependencies of the packages matching
// patterns (default: the package under test), the packages themselves
// excluded.
func Deps(t testing.TB, patterns ...string) []string {
	t.Helper()
	return list(t, []string{"-deps", "-f", "{{if .DepOnly}}{{.ImportPath}}{{end}}"}, patterns)
}

// Imports returns the direct imports of the packages matching patterns
// (default: the package under test).
func Imports(t testing.TB, patterns ...string) []string {
	t.Helper()
	return list(t, []string{"-f", `{{join .Imports "\n"}}`}, patterns)
}

func list(t testing.TB, args, patterns []string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not available")
	}
	if len(patterns) == 0 {
		patterns = []string{"."}
	}
	out, err := exec.Command(goBin, append(append([]string{"list"}, args...), patterns...)...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	return strings.Fields(string(out))
}

// Forbid fails the test for every package in pkgs that is one of
// forbidden or lies below one of them.
func Forbid(t testing.TB, pkgs []string, forbidden ...string) {
	t.Helper()
	for _, p := range pkgs {
		for _, f := range forbidden {
			if p == f || strings.HasPrefix(p, f+"/") {
				t.Errorf("forbidden dependency %s (rule: %s)", p, f)
			}
		}
	}
}

// OnlyCairn fails the test for every Cairn package in pkgs that is not in
// allowed (paths relative to the module, e.g. "proto/metapb").
func OnlyCairn(t testing.TB, pkgs []string, allowed ...string) {
	t.Helper()
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[Module+a] = true
	}
	for _, p := range pkgs {
		if strings.HasPrefix(p, Module) && !ok[p] {
			t.Errorf("forbidden dependency %s", p)
		}
	}
}
