package metadata

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

func updateBucket(b *metapb.Bucket, fields ...string) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_UpdateBucket{UpdateBucket: &metapb.UpdateBucket{Bucket: b, Fields: fields}}}
}

func updateObject(bucket, key, versionID string, values *metapb.ObjectVersion, bypass bool, fields ...string) *metapb.Command {
	return &metapb.Command{Op: &metapb.Command_UpdateObject{UpdateObject: &metapb.UpdateObject{
		Bucket: bucket, Key: key, VersionId: versionID, Values: values, Fields: fields, BypassGovernance: bypass,
	}}}
}

func TestUpdateBucket(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "alice", metapb.VersioningState_VERSIONING_UNVERSIONED))

	// Only the named fields change.
	h.mustApply(updateBucket(&metapb.Bucket{Name: "b", Versioning: metapb.VersioningState_VERSIONING_ENABLED, Policy: "ignored"}, "versioning"))
	h.mustApply(updateBucket(&metapb.Bucket{Name: "b", Policy: `{"Version":"2012-10-17"}`}, "policy"))
	bk, err := h.f.GetBucket("b")
	require.NoError(t, err)
	require.Equal(t, metapb.VersioningState_VERSIONING_ENABLED, bk.Versioning)
	require.Equal(t, `{"Version":"2012-10-17"}`, bk.Policy)
	require.Equal(t, "alice", bk.Owner)

	cases := []struct {
		name string
		cmd  *metapb.Command
		code metapb.ErrorCode
	}{
		{"missing bucket", updateBucket(&metapb.Bucket{Name: "nope", Policy: "x"}, "policy"), metapb.ErrorCode_NO_SUCH_BUCKET},
		{"unknown field", updateBucket(&metapb.Bucket{Name: "b"}, "colour"), metapb.ErrorCode_INVALID_ARGUMENT},
		{"no fields", updateBucket(&metapb.Bucket{Name: "b"}), metapb.ErrorCode_INVALID_ARGUMENT},
		{"versioning off again", updateBucket(&metapb.Bucket{Name: "b"}, "versioning"), metapb.ErrorCode_INVALID_ARGUMENT},
		{"retention without object lock", updateBucket(&metapb.Bucket{Name: "b", DefaultRetention: &metapb.DefaultRetention{Mode: "GOVERNANCE", Days: 1}}, "default_retention"), metapb.ErrorCode_INVALID_ARGUMENT},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.code, h.apply(tc.cmd).Code)
		})
	}
}

func TestUpdateObject(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "alice", metapb.VersioningState_VERSIONING_UNVERSIONED))
	h.mustApply(putObject("b", "k", "", "d1"))

	res := h.mustApply(updateObject("b", "k", "", &metapb.ObjectVersion{Tags: map[string]string{"a": "1"}}, false, "tags"))
	require.Equal(t, map[string]string{"a": "1"}, res.Version.Tags)
	cur, err := h.f.GetObject("b", "k", "")
	require.NoError(t, err)
	require.Equal(t, map[string]string{"a": "1"}, cur.Tags, "the current row follows the version")
	byID, err := h.f.GetObject("b", "k", "null")
	require.NoError(t, err)
	require.Equal(t, cur.Tags, byID.Tags)
	require.Equal(t, "d1", cur.DataId, "the body is untouched")

	// Retention: COMPLIANCE can only be extended; GOVERNANCE can be
	// shortened with the bypass only.
	// Retention needs an Object Lock bucket.
	const day = int64(86400e9)
	require.Equal(t, metapb.ErrorCode_INVALID_ARGUMENT,
		h.apply(updateObject("b", "k", "", &metapb.ObjectVersion{LockMode: "GOVERNANCE", LockRetainUntilUnixNano: day}, false, "retention")).Code)
	h.mustApply(createLockBucket("lk"))
	h.mustApply(putObject("lk", "k", "v1", "d2"))
	set := func(mode string, until int64, bypass bool) metapb.ErrorCode {
		return h.apply(updateObject("lk", "k", "", &metapb.ObjectVersion{LockMode: mode, LockRetainUntilUnixNano: until}, bypass, "retention")).Code
	}
	require.Equal(t, metapb.ErrorCode_OK, set("GOVERNANCE", 10*day, false))
	require.Equal(t, metapb.ErrorCode_ACCESS_DENIED, set("GOVERNANCE", 5*day, false))
	require.Equal(t, metapb.ErrorCode_OK, set("GOVERNANCE", 5*day, true))
	require.Equal(t, metapb.ErrorCode_OK, set("COMPLIANCE", 20*day, true))
	require.Equal(t, metapb.ErrorCode_ACCESS_DENIED, set("COMPLIANCE", 19*day, true))
	require.Equal(t, metapb.ErrorCode_ACCESS_DENIED, set("", 0, true))
	require.Equal(t, metapb.ErrorCode_OK, set("COMPLIANCE", 30*day, false))

	require.Equal(t, metapb.ErrorCode_NO_SUCH_KEY, h.apply(updateObject("b", "missing", "", &metapb.ObjectVersion{}, false, "tags")).Code)
	require.Equal(t, metapb.ErrorCode_NO_SUCH_VERSION, h.apply(updateObject("b", "k", "v9", &metapb.ObjectVersion{}, false, "tags")).Code)
	require.Equal(t, metapb.ErrorCode_INVALID_ARGUMENT, h.apply(updateObject("b", "k", "", &metapb.ObjectVersion{}, false, "size")).Code)
}
