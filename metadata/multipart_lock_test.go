package metadata

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

func createLockBucketWithDefault(name string, days uint32) *metapb.Command {
	cmd := createLockBucket(name)
	cmd.GetCreateBucket().Bucket.DefaultRetention = &metapb.DefaultRetention{Mode: lockGovernance, Days: days}
	return cmd
}

func TestCompleteMultipartObjectLock(t *testing.T) {
	t.Run("default retention", func(t *testing.T) {
		h := newHarness(t)
		h.mustApply(createLockBucketWithDefault("lk", 2))
		h.mustApply(createUpload("lk", "k", "u1", 1))
		h.mustApply(putPart("lk", "k", "u1", 1, "p1", 100))
		res := h.mustApply(complete("lk", "k", "u1", "v1", 0, listedPart{1, "p1"}))
		want := time.Unix(0, 500).UTC().AddDate(0, 0, 2).UnixNano()
		require.Equal(t, lockGovernance, res.Version.LockMode)
		require.Equal(t, want, res.Version.LockRetainUntilUnixNano)
		v, err := h.f.GetObject("lk", "k", "v1")
		require.NoError(t, err)
		require.Equal(t, want, v.LockRetainUntilUnixNano)
		require.Equal(t, metapb.ErrorCode_ACCESS_DENIED, h.apply(deleteVersionAt("lk", "k", "v1", 600, false)).Code)
	})
	t.Run("lock fields on a bucket without Object Lock", func(t *testing.T) {
		h := newHarness(t)
		h.mustApply(createBucket("b", "o", metapb.VersioningState_VERSIONING_ENABLED))
		h.mustApply(createUpload("b", "k", "u1", 1))
		h.mustApply(putPart("b", "k", "u1", 1, "p1", 100))
		cmd := complete("b", "k", "u1", "v1", 0, listedPart{1, "p1"})
		cmd.GetCompleteMultipartUpload().Version.LegalHold = true
		require.Equal(t, metapb.ErrorCode_INVALID_ARGUMENT, h.apply(cmd).Code)
		_, err := h.f.GetObject("b", "k", "")
		require.ErrorIs(t, err, ErrNoSuchKey)
		// The upload is still there to complete properly.
		h.mustApply(complete("b", "k", "u1", "v1", 0, listedPart{1, "p1"}))
	})
	t.Run("a locked version of the same ID is not replaced", func(t *testing.T) {
		h := newHarness(t)
		h.mustApply(createLockBucket("lk"))
		h.mustApply(lockedPut("lk", "k", "v1", "", 0, true))
		h.mustApply(createUpload("lk", "k", "u1", 1))
		h.mustApply(putPart("lk", "k", "u1", 1, "p1", 100))
		res := h.apply(complete("lk", "k", "u1", "v1", 0, listedPart{1, "p1"}))
		require.Equal(t, metapb.ErrorCode_ACCESS_DENIED, res.Code, "%v", res)
		v, err := h.f.GetObject("lk", "k", "v1")
		require.NoError(t, err)
		require.Equal(t, "d-v1", v.DataId)
	})
}
