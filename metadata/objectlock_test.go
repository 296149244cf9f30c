package metadata

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

func createLockBucket(name string) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_CreateBucket{CreateBucket: &metapb.CreateBucket{
		Bucket: &metapb.Bucket{Name: name, Owner: "alice", ObjectLockEnabled: true, CreatedUnixNano: 1},
	}}}
}

// lockedPut is putObject (mtime 100) with Object Lock fields.
func lockedPut(bucket, key, versionID, mode string, until int64, hold bool) *metapb.Command {
	cmd := putObject(bucket, key, versionID, "d-"+versionID)
	v := cmd.GetPutObject().Version
	v.LockMode, v.LockRetainUntilUnixNano, v.LegalHold = mode, until, hold
	return cmd
}

func deleteVersionAt(bucket, key, versionID string, now int64, bypass bool) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_DeleteObject{DeleteObject: &metapb.DeleteObject{
		Bucket: bucket, Key: key, VersionId: versionID, MtimeUnixNano: now, BypassGovernance: bypass,
	}}}
}

func TestObjectLockBucketIsVersioned(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createLockBucket("lk"))
	bk, err := h.f.GetBucket("lk")
	require.NoError(t, err)
	require.True(t, bk.ObjectLockEnabled)
	require.Equal(t, metapb.VersioningState_VERSIONING_ENABLED, bk.Versioning)
	require.Equal(t, metapb.ErrorCode_INVALID_ARGUMENT,
		h.apply(updateBucket(&metapb.Bucket{Name: "lk", Versioning: metapb.VersioningState_VERSIONING_SUSPENDED}, "versioning")).Code)
}

func TestObjectLockPutChecks(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("plain", "alice", metapb.VersioningState_VERSIONING_ENABLED))
	h.mustApply(createLockBucket("lk"))
	cases := []struct {
		name string
		cmd  *metapb.Command
		code metapb.ErrorCode
	}{
		{"retention without lock", lockedPut("plain", "k", "v1", "GOVERNANCE", 1000, false), metapb.ErrorCode_INVALID_ARGUMENT},
		{"legal hold without lock", lockedPut("plain", "k", "v1", "", 0, true), metapb.ErrorCode_INVALID_ARGUMENT},
		{"mode without date", lockedPut("lk", "k", "v1", "GOVERNANCE", 0, false), metapb.ErrorCode_INVALID_ARGUMENT},
		{"date without mode", lockedPut("lk", "k", "v1", "", 1000, false), metapb.ErrorCode_INVALID_ARGUMENT},
		{"unknown mode", lockedPut("lk", "k", "v1", "FOREVER", 1000, false), metapb.ErrorCode_INVALID_ARGUMENT},
		{"governance", lockedPut("lk", "k", "v1", "GOVERNANCE", 1000, false), metapb.ErrorCode_OK},
		{"compliance and hold", lockedPut("lk", "k", "v2", "COMPLIANCE", 1000, true), metapb.ErrorCode_OK},
		{"plain version in lock bucket", lockedPut("lk", "k", "v3", "", 0, false), metapb.ErrorCode_OK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.code, h.apply(tc.cmd).Code)
		})
	}
}

func TestObjectLockDefaultRetention(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createLockBucket("lk"))
	h.mustApply(updateBucket(&metapb.Bucket{Name: "lk", DefaultRetention: &metapb.DefaultRetention{Mode: "GOVERNANCE", Days: 2}}, "default_retention"))

	res := h.mustApply(putObject("lk", "k", "v1", "d1"))
	require.Equal(t, "GOVERNANCE", res.Version.LockMode)
	require.Equal(t, time.Unix(0, 100).UTC().AddDate(0, 0, 2).UnixNano(), res.Version.LockRetainUntilUnixNano)

	// An explicit retention wins over the default.
	res = h.mustApply(lockedPut("lk", "k", "v2", "COMPLIANCE", 5000, false))
	require.Equal(t, "COMPLIANCE", res.Version.LockMode)
	require.Equal(t, int64(5000), res.Version.LockRetainUntilUnixNano)

	h.mustApply(updateBucket(&metapb.Bucket{Name: "lk", DefaultRetention: &metapb.DefaultRetention{Mode: "COMPLIANCE", Years: 1}}, "default_retention"))
	res = h.mustApply(putObject("lk", "k", "v3", "d3"))
	require.Equal(t, "COMPLIANCE", res.Version.LockMode)
	require.Equal(t, time.Unix(0, 100).UTC().AddDate(1, 0, 0).UnixNano(), res.Version.LockRetainUntilUnixNano)

	// Removing the default stops applying it.
	h.mustApply(updateBucket(&metapb.Bucket{Name: "lk"}, "default_retention"))
	res = h.mustApply(putObject("lk", "k", "v4", "d4"))
	require.Empty(t, res.Version.LockMode)
}

// TestObjectLockDelete checks enforcement inside the FSM: whether a locked
// version can be deleted is decided at the command's time.
func TestObjectLockDelete(t *testing.T) {
	const until = int64(1_000_000)
	cases := []struct {
		name   string
		mode   string
		hold   bool
		now    int64
		bypass bool
		code   metapb.ErrorCode
	}{
		{"governance in force", "GOVERNANCE", false, until - 1, false, metapb.ErrorCode_ACCESS_DENIED},
		{"governance bypassed", "GOVERNANCE", false, until - 1, true, metapb.ErrorCode_OK},
		{"governance expired", "GOVERNANCE", false, until, false, metapb.ErrorCode_OK},
		{"compliance in force", "COMPLIANCE", false, until - 1, false, metapb.ErrorCode_ACCESS_DENIED},
		{"compliance never bypassed", "COMPLIANCE", false, until - 1, true, metapb.ErrorCode_ACCESS_DENIED},
		{"compliance expired", "COMPLIANCE", false, until + 1, false, metapb.ErrorCode_OK},
		{"legal hold", "", true, 5, false, metapb.ErrorCode_ACCESS_DENIED},
		{"legal hold not bypassed", "", true, 5, true, metapb.ErrorCode_ACCESS_DENIED},
		{"legal hold outlives retention", "GOVERNANCE", true, until + 1, true, metapb.ErrorCode_ACCESS_DENIED},
		{"unlocked", "", false, 5, false, metapb.ErrorCode_OK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.mustApply(createLockBucket("lk"))
			u := int64(0)
			if tc.mode != "" {
				u = until
			}
			h.mustApply(lockedPut("lk", "k", "v1", tc.mode, u, tc.hold))
			require.Equal(t, tc.code, h.apply(deleteVersionAt("lk", "k", "v1", tc.now, tc.bypass)).Code)
			_, err := h.f.GetObject("lk", "k", "v1")
			if tc.code == metapb.ErrorCode_OK {
				require.ErrorIs(t, err, ErrNoSuchVersion)
			} else {
				require.NoError(t, err, "a locked version stays")
			}
		})
	}
}

// TestObjectLockSimpleDelete: a delete without a version ID only adds a
// marker, which Object Lock allows; the locked version stays.
func TestObjectLockSimpleDelete(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createLockBucket("lk"))
	h.mustApply(lockedPut("lk", "k", "v1", "COMPLIANCE", 1_000_000, false))
	res := h.mustApply(deleteObject("lk", "k", "", "m1"))
	require.True(t, res.Version.DeleteMarker)
	_, err := h.f.GetObject("lk", "k", "v1")
	require.NoError(t, err)
	// Overwriting creates a new version; the locked one stays.
	h.mustApply(putObject("lk", "k", "v2", "d2"))
	_, err = h.f.GetObject("lk", "k", "v1")
	require.NoError(t, err)
}

// TestObjectLockLegalHold: a hold can be set and lifted; lifted, the
// version can be deleted.
func TestObjectLockLegalHold(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("plain", "alice", metapb.VersioningState_VERSIONING_ENABLED))
	h.mustApply(putObject("plain", "k", "v1", "d1"))
	require.Equal(t, metapb.ErrorCode_INVALID_ARGUMENT,
		h.apply(updateObject("plain", "k", "v1", &metapb.ObjectVersion{LegalHold: true}, false, "legal_hold")).Code)

	h.mustApply(createLockBucket("lk"))
	h.mustApply(putObject("lk", "k", "v1", "d2"))
	h.mustApply(updateObject("lk", "k", "v1", &metapb.ObjectVersion{LegalHold: true}, false, "legal_hold"))
	require.Equal(t, metapb.ErrorCode_ACCESS_DENIED, h.apply(deleteVersionAt("lk", "k", "v1", 300, true)).Code)
	h.mustApply(updateObject("lk", "k", "v1", &metapb.ObjectVersion{LegalHold: false}, false, "legal_hold"))
	h.mustApply(deleteVersionAt("lk", "k", "v1", 300, false))
}
