package metadata

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

func TestKeyRotationChecks(t *testing.T) {
	h := newHarness(t)
	a, b, c := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	check := func(v []byte) *metapb.Command {
		return &metapb.Command{Op: &metapb.Command_SetMasterKeyCheck{SetMasterKeyCheck: &metapb.SetMasterKeyCheck{Check: v}}}
	}
	start := func(o, n []byte) *metapb.Command {
		return &metapb.Command{Op: &metapb.Command_StartKeyRotation{StartKeyRotation: &metapb.StartKeyRotation{OldCheck: o, NewCheck: n}}}
	}
	finish := func(n []byte) *metapb.Command {
		return &metapb.Command{Op: &metapb.Command_FinishKeyRotation{FinishKeyRotation: &metapb.FinishKeyRotation{NewCheck: n}}}
	}
	steps := []struct {
		name     string
		cmd      *metapb.Command
		code     metapb.ErrorCode
		rotating bool
	}{
		{"first key recorded", check(a), metapb.ErrorCode_OK, false},
		{"start from a wrong key", start(c, b), metapb.ErrorCode_PRECONDITION_FAILED, false},
		{"start to the same key", start(a, a), metapb.ErrorCode_INVALID_ARGUMENT, false},
		{"start a to b", start(a, b), metapb.ErrorCode_OK, true},
		{"resume a to b", start(a, b), metapb.ErrorCode_OK, true},
		{"another rotation refused", start(b, c), metapb.ErrorCode_PRECONDITION_FAILED, false},
		{"old key accepted while rotating", check(a), metapb.ErrorCode_OK, true},
		{"new key accepted while rotating", check(b), metapb.ErrorCode_OK, true},
		{"wrong key refused while rotating", check(c), metapb.ErrorCode_PRECONDITION_FAILED, false},
		{"finish with the old key refused", finish(a), metapb.ErrorCode_PRECONDITION_FAILED, false},
		{"finish", finish(b), metapb.ErrorCode_OK, false},
		{"finish again", finish(b), metapb.ErrorCode_OK, false},
		{"old key refused after finish", check(a), metapb.ErrorCode_PRECONDITION_FAILED, false},
		{"new key accepted after finish", check(b), metapb.ErrorCode_OK, false},
		{"next rotation b to c", start(b, c), metapb.ErrorCode_OK, true},
	}
	for i, st := range steps {
		if i == 7 {
			h.reopen() // the rotation state survives a restart
		}
		res := h.apply(st.cmd)
		require.Equal(t, st.code, res.GetCode(), "%s: %v", st.name, res)
		require.Equal(t, st.rotating, res.GetKeyRotating(), st.name)
	}
}

func TestRewrapSealed(t *testing.T) {
	h := newHarness(t)
	h.mustApply(createBucket("b", "o", metapb.VersioningState_VERSIONING_ENABLED))
	put := putObject("b", "k", "v1", "d1")
	enc := func(w string) *metapb.Encryption {
		return &metapb.Encryption{Algorithm: "AES256", KeyId: "master", WrappedKey: []byte(w)}
	}
	put.GetPutObject().Version.Encryption = enc("old")
	put.GetPutObject().Version.Parts = []*metapb.PartInfo{{Number: 1, Encryption: enc("old")}, {Number: 2, Encryption: enc("other")}}
	h.mustApply(put)
	kms := putObject("b", "kms", "v2", "d2")
	kms.GetPutObject().Version.Encryption = &metapb.Encryption{Algorithm: "aws:kms", KeyId: "k", WrappedKey: []byte("old")}
	h.mustApply(kms)
	h.mustApply(&metapb.Command{Op: &metapb.Command_PutUser{PutUser: &metapb.PutUser{User: &metapb.User{
		AccessKey: "AK", CanonicalId: "c", DisplayName: "u", SecretCiphertext: []byte("sold"),
	}}}})

	swaps := []*metapb.SealedSwap{
		{Kind: metapb.SealedKind_SEALED_USER_SECRET, AccessKey: "AK", Old: []byte("sold"), New: []byte("snew")},
		{Kind: metapb.SealedKind_SEALED_USER_SECRET, AccessKey: "AK", Old: []byte("stale"), New: []byte("bad")},
		{Kind: metapb.SealedKind_SEALED_USER_SECRET, AccessKey: "NOPE", Old: []byte("sold"), New: []byte("bad")},
		{Kind: metapb.SealedKind_SEALED_OBJECT_VERSION, Bucket: "b", Key: "k", VersionId: "v1", Old: []byte("old"), New: []byte("new")},
		{Kind: metapb.SealedKind_SEALED_OBJECT_VERSION, Bucket: "b", Key: "kms", VersionId: "v2", Old: []byte("old"), New: []byte("bad")},
		{Kind: metapb.SealedKind_SEALED_OBJECT_VERSION, Bucket: "b", Key: "gone", VersionId: "v9", Old: []byte("old"), New: []byte("bad")},
		{Kind: metapb.SealedKind_SEALED_UPLOAD, Bucket: "b", Key: "k", UploadId: "u", Old: []byte("old"), New: []byte("bad")},
	}
	res := h.mustApply(&metapb.Command{Op: &metapb.Command_RewrapSealed{RewrapSealed: &metapb.RewrapSealed{Swaps: swaps}}})
	require.EqualValues(t, 2, res.GetRewrapped(), "only the user and the SSE-S3 version still held the old bytes")

	u, err := h.f.GetUser("AK")
	require.NoError(t, err)
	require.Equal(t, []byte("snew"), u.SecretCiphertext)
	for _, vid := range []string{"v1", ""} { // the version row and the current row
		v, err := h.f.GetObject("b", "k", vid)
		require.NoError(t, err)
		require.Equal(t, []byte("new"), v.Encryption.WrappedKey)
		require.Equal(t, []byte("new"), v.Parts[0].Encryption.WrappedKey)
		require.Equal(t, []byte("other"), v.Parts[1].Encryption.WrappedKey)
	}
	v, err := h.f.GetObject("b", "kms", "")
	require.NoError(t, err)
	require.Equal(t, []byte("old"), v.Encryption.WrappedKey, "SSE-KMS keys are not the master key's")

	res = h.apply(&metapb.Command{Op: &metapb.Command_RewrapSealed{RewrapSealed: &metapb.RewrapSealed{Swaps: swaps[:1]}}})
	require.EqualValues(t, 0, res.GetRewrapped(), "a replayed swap changes nothing")
}
