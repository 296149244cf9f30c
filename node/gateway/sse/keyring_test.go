package sse

import (
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"
)

func b64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

func TestKeyringWrapUnwrap(t *testing.T) {
	master, k1, k2 := NewDataKey(), NewDataKey(), NewDataKey()
	kr, err := NewKeyring(master, []KMSKey{{ID: "one", Key: k1}, {ID: "two", Key: k2}})
	require.NoError(t, err)
	other, err := NewKeyring(NewDataKey(), []KMSKey{{ID: "one", Key: NewDataKey()}})
	require.NoError(t, err)
	dk := NewDataKey()

	t.Run("sse-s3", func(t *testing.T) {
		w, err := kr.WrapS3(dk)
		require.NoError(t, err)
		got, err := kr.UnwrapS3(w, MasterKeyID)
		require.NoError(t, err)
		require.Equal(t, dk, got)
		_, err = other.UnwrapS3(w, MasterKeyID)
		require.ErrorIs(t, err, ErrUnwrap)
		_, err = kr.UnwrapS3(w, "old-master")
		require.ErrorIs(t, err, ErrUnwrap)
	})
	t.Run("sse-kms with context binding", func(t *testing.T) {
		ctx := `{"project":"cairn"}`
		w, err := kr.WrapKMS("two", ctx, dk)
		require.NoError(t, err)
		got, err := kr.UnwrapKMS("two", ctx, w)
		require.NoError(t, err)
		require.Equal(t, dk, got)

		tests := []struct {
			name, id, ctx string
		}{
			{"other context", "two", `{"project":"other"}`},
			{"no context", "two", ""},
			{"other key", "one", ctx},
		}
		for _, tt := range tests {
			_, err := kr.UnwrapKMS(tt.id, tt.ctx, w)
			require.ErrorIs(t, err, ErrUnwrap, tt.name)
		}
		_, err = kr.UnwrapKMS("three", ctx, w)
		require.ErrorIs(t, err, ErrNoSuchKMSKey)
	})
	t.Run("modes do not mix", func(t *testing.T) {
		// The same key bytes as master and KMS key must not make a
		// wrapped key of one mode open in the other.
		same, err := NewKeyring(k1, []KMSKey{{ID: MasterKeyID, Key: k1}})
		require.NoError(t, err)
		w, err := same.WrapS3(dk)
		require.NoError(t, err)
		_, err = same.UnwrapKMS(MasterKeyID, "", w)
		require.ErrorIs(t, err, ErrUnwrap)
	})
	t.Run("sse-c", func(t *testing.T) {
		ck := NewDataKey()
		w, err := WrapCustomer(ck, dk)
		require.NoError(t, err)
		got, err := UnwrapCustomer(ck, w)
		require.NoError(t, err)
		require.Equal(t, dk, got)
		_, err = UnwrapCustomer(NewDataKey(), w)
		require.ErrorIs(t, err, ErrUnwrap)
		_, err = UnwrapCustomer(ck[:16], w)
		require.ErrorIs(t, err, ErrInvalidKey)
		// A truncated record is refused, not a panic.
		_, err = UnwrapCustomer(ck, w[:10])
		require.ErrorIs(t, err, ErrUnwrap)
	})
	t.Run("no master key", func(t *testing.T) {
		none, err := NewKeyring(nil, nil)
		require.NoError(t, err)
		_, err = none.WrapS3(dk)
		require.ErrorIs(t, err, ErrNoMasterKey)
		var nilRing *Keyring
		require.False(t, nilRing.HasMaster())
		_, err = nilRing.ResolveKMSKey("")
		require.ErrorIs(t, err, ErrNoSuchKMSKey)
	})
}

func TestResolveKMSKey(t *testing.T) {
	kr, err := NewKeyring(nil, []KMSKey{{ID: "first", Key: NewDataKey()}, {ID: "second", Key: NewDataKey()}})
	require.NoError(t, err)
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"default", "", "first", false},
		{"bare id", "second", "second", false},
		{"key arn", "arn:aws:kms:us-east-1:123456789012:key/second", "second", false},
		{"alias", "alias/second", "second", false},
		{"alias arn", "arn:aws:kms:us-east-1:123456789012:alias/first", "first", false},
		{"unknown", "third", "", true},
		{"unknown arn", "arn:aws:kms:us-east-1:123456789012:key/third", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kr.ResolveKMSKey(tt.in)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrNoSuchKMSKey)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	require.Equal(t, []string{"first", "second"}, kr.KMSKeyIDs())
}

func TestParseKeys(t *testing.T) {
	k1, k2 := NewDataKey(), NewDataKey()
	tests := []struct {
		name    string
		spec    string
		want    []KMSKey
		wantErr bool
	}{
		{"empty", "", nil, false},
		{"two", "a=" + b64(k1) + ", b=" + b64(k2), []KMSKey{{"a", k1}, {"b", k2}}, false},
		{"no id", "=" + b64(k1), nil, true},
		{"no equals", b64(k1), nil, true},
		{"short key", "a=" + b64(k1[:16]), nil, true},
		{"not base64", "a=!!!", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKMSKeys(tt.spec)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrInvalidKey)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
	_, err := NewKeyring(nil, []KMSKey{{"a", k1}, {"a", k2}})
	require.ErrorIs(t, err, ErrInvalidKey)
	_, err = NewKeyring(k1[:5], nil)
	require.ErrorIs(t, err, ErrInvalidKey)
	got, err := ParseKey(" " + b64(k1) + "\n")
	require.NoError(t, err)
	require.Equal(t, k1, got)
}

func TestCustomerKeyMD5(t *testing.T) {
	// The MD5 of 32 zero bytes, as S3 clients compute it.
	require.Equal(t, "cLyPS3KoaSFGi/joRB3OUQ==", CustomerKeyMD5(make([]byte, 32)))
}

// legacyWrapS3 writes a format 1 SSE-S3 wrapped key, as releases before
// key IDs did.
func legacyWrapS3(t *testing.T, master, dk []byte) []byte {
	t.Helper()
	a, err := newAEAD(master)
	require.NoError(t, err)
	w, err := wrap(a, dk, aad(purposeS3, MasterKeyID, ""))
	require.NoError(t, err)
	require.Len(t, w, WrappedKeySize)
	return w
}

func TestUnwrapS3Formats(t *testing.T) {
	oldK, newK, wrongK := NewDataKey(), NewDataKey(), NewDataKey()
	ring := func(m MasterKeys) *Keyring {
		kr, err := NewKeyringMasters(m, nil)
		require.NoError(t, err)
		return kr
	}
	dk := NewDataKey()
	wrapWith := func(kr *Keyring) []byte {
		w, err := kr.WrapS3(dk)
		require.NoError(t, err)
		return w
	}
	v1 := legacyWrapS3(t, oldK, dk)
	oldOnly := wrapWith(ring(MasterKeys{Current: oldK}))
	rotating := wrapWith(ring(MasterKeys{Current: newK, Previous: oldK, SealPrevious: true}))
	newOnly := wrapWith(ring(MasterKeys{Current: newK, Previous: oldK}))

	tests := []struct {
		name    string
		keys    MasterKeys
		wrapped []byte
		ok      bool
	}{
		{"format 1, same key", MasterKeys{Current: oldK}, v1, true},
		{"format 1, as previous key", MasterKeys{Current: newK, Previous: oldK}, v1, true},
		{"format 1, new key only", MasterKeys{Current: newK}, v1, false},
		{"format 2, old key", MasterKeys{Current: oldK}, oldOnly, true},
		{"format 2, wrong key", MasterKeys{Current: wrongK}, oldOnly, false},
		{"rotating, old key", MasterKeys{Current: oldK}, rotating, true},
		{"rotating, new key", MasterKeys{Current: newK}, rotating, true},
		{"rotating, wrong key", MasterKeys{Current: wrongK, Previous: NewDataKey()}, rotating, false},
		{"new only, new key", MasterKeys{Current: newK}, newOnly, true},
		{"new only, old key", MasterKeys{Current: oldK}, newOnly, false},
		{"damaged", MasterKeys{Current: oldK}, append([]byte{2}, oldOnly[1:len(oldOnly)-1]...), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ring(tt.keys).UnwrapS3(tt.wrapped, MasterKeyID)
			if !tt.ok {
				require.ErrorIs(t, err, ErrUnwrap)
				return
			}
			require.NoError(t, err)
			require.Equal(t, dk, got)
		})
	}
}

func TestRewrapS3(t *testing.T) {
	oldK, newK := NewDataKey(), NewDataKey()
	rot, err := NewKeyringMasters(MasterKeys{Current: newK, Previous: oldK}, nil)
	require.NoError(t, err)
	oldOnly, err := NewKeyring(oldK, nil)
	require.NoError(t, err)
	newOnly, err := NewKeyring(newK, nil)
	require.NoError(t, err)
	dk := NewDataKey()
	w2, err := oldOnly.WrapS3(dk)
	require.NoError(t, err)
	for _, in := range [][]byte{legacyWrapS3(t, oldK, dk), w2} {
		both, changed, err := rot.RewrapS3(in, false)
		require.NoError(t, err)
		require.True(t, changed)
		for _, kr := range []*Keyring{oldOnly, newOnly} {
			got, err := kr.UnwrapS3(both, MasterKeyID)
			require.NoError(t, err)
			require.Equal(t, dk, got)
		}
		_, changed, err = rot.RewrapS3(both, false)
		require.NoError(t, err)
		require.False(t, changed)
		final, changed, err := rot.RewrapS3(both, true)
		require.NoError(t, err)
		require.True(t, changed)
		_, err = oldOnly.UnwrapS3(final, MasterKeyID)
		require.ErrorIs(t, err, ErrUnwrap)
		got, err := newOnly.UnwrapS3(final, MasterKeyID)
		require.NoError(t, err)
		require.Equal(t, dk, got)
	}
}
