package devcluster

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAutoAdmit checks that a local cluster's meta nodes admit storage
// nodes by themselves unless the layout asks for manual admission, that
// the choice survives a reload, and that AddStorage lays out a new node.
func TestAutoAdmit(t *testing.T) {
	for _, manual := range []bool{false, true} {
		dir := t.TempDir()
		l, err := LoadOrCreate(Spec{Dir: dir, Storage: 2, ManualAdmit: manual})
		require.NoError(t, err)
		p, err := l.AddStorage("")
		require.NoError(t, err)
		require.Equal(t, "storage-3", p.Name)
		l, err = LoadOrCreate(Spec{Dir: dir})
		require.NoError(t, err)
		require.Equal(t, manual, l.ManualAdmit)
		require.Equal(t, []string{"storage-1", "storage-2", "storage-3"}, l.Names("storage"))
		for _, p := range l.Procs {
			isMeta := slices.Contains(p.Roles, "meta")
			require.Equal(t, isMeta && !manual, slices.Contains(l.Args(p), "--auto-admit-nodes"), "%s manual=%v", p.Name, manual)
		}
	}
}
