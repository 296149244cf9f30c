package metadata

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

// TestMissesUseFilters: a PutObject's lookups of keys that do not exist
// yet are answered by the tables' bloom filters, not by reading blocks.
func TestMissesUseFilters(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", unversioned))
	var logs []*raft.Log
	for i := range 200 {
		logs = append(logs, h.log(putObject("b", fmt.Sprintf("k/%04d", i), "null", fmt.Sprintf("d-%04d", i))))
	}
	h.f.ApplyBatch(logs)
	require.NoError(t, h.f.mu.db.Flush())
	before, err := h.f.Metrics()
	require.NoError(t, err)
	h.mustApply(putObject("b", "new-key", "null", "new-body"))
	after, err := h.f.Metrics()
	require.NoError(t, err)
	require.Greater(t, after.Filter.Hits, before.Filter.Hits, "no lookup was answered by a filter")
}
