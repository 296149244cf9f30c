package depstest

import (
	"testing"
)

// recorder captures failures instead of failing the real test, so the
// checks themselves can be tested.
type recorder struct {
	testing.TB
	errors int
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.errors++ }

func TestForbid(t *testing.T) {
	cases := []struct {
		name      string
		pkgs      []string
		forbidden []string
		errors    int
	}{
		{"exact", []string{"net/http"}, []string{"net/http"}, 1},
		{"below", []string{"google.golang.org/grpc/codes"}, []string{"google.golang.org/grpc"}, 1},
		{"prefix of a name is not below", []string{"net/httptest2"}, []string{"net/http"}, 0},
		{"none", []string{"fmt", "io"}, []string{"net"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			Forbid(r, tc.pkgs, tc.forbidden...)
			if r.errors != tc.errors {
				t.Fatalf("%d failures, want %d", r.errors, tc.errors)
			}
		})
	}
}

func TestOnlyCairn(t *testing.T) {
	r := &recorder{TB: t}
	OnlyCairn(r, []string{"fmt", Module + "proto/metapb", Module + "node/meta"}, "proto/metapb")
	if r.errors != 1 {
		t.Fatalf("%d failures, want 1 (node/meta)", r.errors)
	}
}

func TestDepsListsThisPackagesDependencies(t *testing.T) {
	deps := Deps(t)
	found := false
	for _, d := range deps {
		if d == Module+"node/depstest" {
			t.Fatal("Deps lists the package itself")
		}
		found = found || d == "os/exec"
	}
	if !found {
		t.Fatalf("os/exec missing from %v", deps)
	}
}
