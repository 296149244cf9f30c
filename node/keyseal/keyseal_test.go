package keyseal

import (
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

func newKey(t *testing.T) Key {
	t.Helper()
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	id, err := MasterID(raw)
	require.NoError(t, err)
	k, err := NewKey(id, raw)
	require.NoError(t, err)
	return k
}

func ring(t *testing.T, keys ...Key) *Ring {
	t.Helper()
	r, err := NewRing(keys...)
	require.NoError(t, err)
	return r
}

func TestSealOpen(t *testing.T) {
	oldK, newK, otherK := newKey(t), newKey(t), newKey(t)
	ad := []byte("user\x00AK1")
	plain := []byte("secret")
	seal := func(r *Ring, ids ...ID) []byte {
		b, err := r.Seal(plain, ad, ids...)
		require.NoError(t, err)
		return b
	}
	oldOnly := seal(ring(t, oldK))
	both := seal(ring(t, newK, oldK), newK.ID, oldK.ID)
	newOnly := seal(ring(t, newK, oldK))
	flipped := append([]byte(nil), both...)
	flipped[2+IDSize+nonceSize+2] ^= 1 // the new key's sealing, tried first

	tests := []struct {
		name    string
		ring    *Ring
		sealed  []byte
		ad      []byte
		wantErr error
	}{
		{"old key opens old", ring(t, oldK), oldOnly, ad, nil},
		{"rotating ring opens old", ring(t, newK, oldK), oldOnly, ad, nil},
		{"old key opens both", ring(t, oldK), both, ad, nil},
		{"new key opens both", ring(t, newK), both, ad, nil},
		{"new key opens new", ring(t, newK), newOnly, ad, nil},
		{"old key refused on new only", ring(t, oldK), newOnly, ad, ErrNoKey},
		{"other key refused", ring(t, otherK), both, ad, ErrNoKey},
		{"other additional data refused", ring(t, oldK), oldOnly, []byte("user\x00AK2"), ErrOpen},
		{"damaged sealing refused", ring(t, newK, oldK), flipped, ad, ErrOpen},
		{"truncated", ring(t, oldK), oldOnly[:len(oldOnly)-3], ad, ErrMalformed},
		{"trailing bytes", ring(t, oldK), append(append([]byte(nil), oldOnly...), 0), ad, ErrMalformed},
		{"format 1 is not an envelope", ring(t, oldK), []byte{1, 2, 3}, ad, ErrMalformed},
		{"empty", ring(t, oldK), nil, ad, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ring.Open(tt.sealed, tt.ad)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, plain, got)
		})
	}
}

func TestIDsOf(t *testing.T) {
	a, b := newKey(t), newKey(t)
	r := ring(t, a, b)
	one, err := r.Seal([]byte("k"), nil)
	require.NoError(t, err)
	two, err := r.Seal([]byte("k"), nil, a.ID, b.ID)
	require.NoError(t, err)
	tests := []struct {
		name   string
		sealed []byte
		want   []ID
	}{
		{"current only", one, []ID{a.ID}},
		{"both in order", two, []ID{a.ID, b.ID}},
		{"legacy has none", []byte{1, 9, 9}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := IDsOf(tt.sealed)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.want != nil, SealedUnder(tt.sealed, tt.want))
		})
	}
	require.False(t, SealedUnder(two, []ID{a.ID}))
}

func TestRingRefuses(t *testing.T) {
	a := newKey(t)
	_, err := NewRing()
	require.Error(t, err)
	_, err = NewRing(a, a)
	require.Error(t, err)
	_, err = ring(t, a).Seal([]byte("x"), nil, newKey(t).ID)
	require.ErrorIs(t, err, ErrNoKey)
	_, err = NewKey(a.ID, make([]byte, 16))
	require.Error(t, err)
}

func TestMasterIDStable(t *testing.T) {
	k := make([]byte, 32)
	id1, err := MasterID(k)
	require.NoError(t, err)
	id2, err := MasterID(k)
	require.NoError(t, err)
	require.Equal(t, id1, id2)
	k[0] = 1
	id3, err := MasterID(k)
	require.NoError(t, err)
	require.NotEqual(t, id1, id3)
}
