package metadata

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

func TestUnknownData(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", metapb.VersioningState_VERSIONING_UNVERSIONED))
	h.mustApply(putObject("b", "k", "", "live"))
	h.mustApply(putObject("b", "old", "", "acked"))
	h.mustApply(putObject("b", "old", "", "replaced")) // queues "acked" for GC
	h.mustApply(createUpload("b", "m", "u1", 1))
	h.mustApply(putPart("b", "m", "u1", 1, "part", 5))
	h.mustApply(complete("b", "m", "u1", "", 0, listedPart{1, "part"}))
	h.mustApply(createUpload("b", "a", "u2", 1))
	h.mustApply(putPart("b", "a", "u2", 1, "aborted", 5))
	h.mustApply(abort("b", "a", "u2"))
	h.mustApply(createUpload("b", "p", "u3", 1))
	h.mustApply(putPart("b", "p", "u3", 1, "pending-part", 5))

	all := []string{"live", "acked", "replaced", "part", "aborted", "pending-part", "never", "", "never", "also-never"}
	unknown, err := h.f.UnknownData(all)
	require.NoError(t, err)
	require.Equal(t, []string{"never", "also-never"}, unknown,
		"committed bodies, completed and pending parts and GC-pending bodies are known")

	// Acknowledging a GC entry (its shards are gone) forgets its body.
	gc, err := h.f.PendingGC(0)
	require.NoError(t, err)
	var seqs []uint64
	for _, e := range gc {
		if e.GetDataId() == "acked" {
			seqs = append(seqs, e.GetSeq())
		}
	}
	require.Len(t, seqs, 1)
	h.mustApply(ackGC(seqs...))
	unknown, err = h.f.UnknownData(all)
	require.NoError(t, err)
	require.Equal(t, []string{"acked", "never", "also-never"}, unknown)

	// Deleting the live object queues its body: known until acknowledged.
	h.mustApply(deleteObject("b", "k", "", ""))
	unknown, err = h.f.UnknownData([]string{"live"})
	require.NoError(t, err)
	require.Empty(t, unknown)

	// The records are persistent.
	h.reopen()
	unknown, err = h.f.UnknownData(all)
	require.NoError(t, err)
	require.Equal(t, []string{"acked", "never", "also-never"}, unknown)
}

func TestUnknownDataLimits(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name string
		n    int
		err  error
	}{
		{name: "none", n: 0},
		{name: "at the limit", n: MaxUnknownDataIDs},
		{name: "over the limit", n: MaxUnknownDataIDs + 1, err: ErrTooManyDataIDs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ids := make([]string, tc.n)
			for i := range ids {
				ids[i] = fmt.Sprintf("id-%d", i)
			}
			unknown, err := h.f.UnknownData(ids)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Len(t, unknown, tc.n)
		})
	}
	require.NoError(t, h.f.Close())
	_, err := h.f.UnknownData([]string{"x"})
	require.ErrorIs(t, err, ErrClosed)
	h.f = nil
}
