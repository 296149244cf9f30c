package devcluster

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAdminAddrs(t *testing.T) {
	tests := []struct {
		name    string
		noAdmin bool
	}{
		{"admin listeners", false},
		{"no admin listeners", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := LoadOrCreate(Spec{Dir: t.TempDir(), NoAdmin: tc.noAdmin})
			require.NoError(t, err)
			seen := map[string]bool{}
			for _, p := range l.Procs {
				args := l.Args(p)
				if tc.noAdmin {
					require.Empty(t, p.AdminAddr)
					require.NotContains(t, args, "--admin-addr")
					continue
				}
				require.NotEmpty(t, p.AdminAddr, p.Name)
				require.False(t, seen[p.AdminAddr], "%s: admin address %s given twice", p.Name, p.AdminAddr)
				seen[p.AdminAddr] = true
				i := slices.Index(args, "--admin-addr")
				require.GreaterOrEqual(t, i, 0, p.Name)
				require.Equal(t, p.AdminAddr, args[i+1])
			}
			path, err := l.WritePrometheusTargets()
			require.NoError(t, err)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			var groups []struct {
				Targets []string          `json:"targets"`
				Labels  map[string]string `json:"labels"`
			}
			require.NoError(t, json.Unmarshal(b, &groups))
			require.Len(t, groups, len(seen))
			for _, g := range groups {
				require.Len(t, g.Targets, 1)
				require.True(t, seen[g.Targets[0]])
				require.NotEmpty(t, g.Labels["role"])
			}
		})
	}
}
