package keys

import (
	"bytes"
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStringEncoding(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []byte
	}{
		{"empty", "", []byte{0x00, 0x01}},
		{"plain", "ab", []byte{'a', 'b', 0x00, 0x01}},
		{"zero byte", "a\x00b", []byte{'a', 0x00, 0xFF, 'b', 0x00, 0x01}},
		{"trailing zero", "a\x00", []byte{'a', 0x00, 0xFF, 0x00, 0x01}},
		{"ff byte", "\xff", []byte{0xFF, 0x00, 0x01}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendString(nil, tc.in)
			require.Equal(t, tc.want, got)
			s, rest, err := DecodeString(got)
			require.NoError(t, err)
			require.Equal(t, tc.in, s)
			require.Empty(t, rest)
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	tests := []struct {
		name string
		key  []byte
		dec  func([]byte) error
	}{
		{"empty object key", nil, func(b []byte) error { _, _, err := DecodeObjectKey(b); return err }},
		{"wrong table", BucketKey("b"), func(b []byte) error { _, _, err := DecodeObjectKey(b); return err }},
		{"unterminated", []byte{TableBucket, 'a'}, func(b []byte) error { _, err := DecodeBucketKey(b); return err }},
		{"truncated escape", []byte{TableBucket, 'a', 0x00}, func(b []byte) error { _, err := DecodeBucketKey(b); return err }},
		{"bad escape", []byte{TableBucket, 'a', 0x00, 0x07}, func(b []byte) error { _, err := DecodeBucketKey(b); return err }},
		{"trailing bytes", append(BucketKey("b"), 'x'), func(b []byte) error { _, err := DecodeBucketKey(b); return err }},
		{"missing key", append([]byte{TableCurrent}, AppendString(nil, "b")...), func(b []byte) error { _, _, err := DecodeObjectKey(b); return err }},
		{"short version", append(VersionPrefix("b", "k"), 1, 2), func(b []byte) error { _, _, _, err := DecodeVersionKey(b); return err }},
		{"short gc", []byte{TableGC, 1}, func(b []byte) error { _, err := DecodeGCKey(b); return err }},
		{"node trailing", append(NodeKey("n"), 0), func(b []byte) error { _, err := DecodeNodeKey(b); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, tc.dec(tc.key), ErrMalformed)
		})
	}
}

func TestRoundTrips(t *testing.T) {
	for _, s := range []string{"", "a", "a/b/c", "\x00", "\x00\x01", "\xff\x00\xff", "日本/語", "x\x00\x00y"} {
		t.Run(s, func(t *testing.T) {
			b, err := DecodeBucketKey(BucketKey(s))
			require.NoError(t, err)
			require.Equal(t, s, b)

			n, err := DecodeNodeKey(NodeKey(s))
			require.NoError(t, err)
			require.Equal(t, s, n)

			bk, k, err := DecodeObjectKey(ObjectKey(s, s+"k"))
			require.NoError(t, err)
			require.Equal(t, s, bk)
			require.Equal(t, s+"k", k)

			bk, k, seq, err := DecodeVersionKey(VersionKey("b"+s, s, 42))
			require.NoError(t, err)
			require.Equal(t, "b"+s, bk)
			require.Equal(t, s, k)
			require.Equal(t, uint64(42), seq)
		})
	}
	for _, seq := range []uint64{0, 1, 1 << 40, ^uint64(0)} {
		got, err := DecodeGCKey(GCKey(seq))
		require.NoError(t, err)
		require.Equal(t, seq, got)
	}
}

func TestVersionOrderNewestFirst(t *testing.T) {
	seqs := []uint64{0, 1, 2, 255, 256, 1 << 33, ^uint64(0)}
	for i := 1; i < len(seqs); i++ {
		newer, older := VersionKey("b", "k", seqs[i]), VersionKey("b", "k", seqs[i-1])
		require.Negative(t, bytes.Compare(newer, older), "seq %d must sort before %d", seqs[i], seqs[i-1])
		require.True(t, bytes.HasPrefix(newer, VersionPrefix("b", "k")))
	}
	// Versions of "k" must not interleave with versions of "k\x00" or "k0".
	require.False(t, bytes.HasPrefix(VersionKey("b", "k\x00", 1), VersionPrefix("b", "k")))
	require.False(t, bytes.HasPrefix(VersionKey("b", "k0", 1), VersionPrefix("b", "k")))
	require.True(t, bytes.HasPrefix(VersionKey("b", "k", 1), BucketVersionsPrefix("b")))
	require.False(t, bytes.HasPrefix(VersionKey("bb", "k", 1), BucketVersionsPrefix("b")))
}

func TestGCOrder(t *testing.T) {
	require.Negative(t, bytes.Compare(GCKey(255), GCKey(256)))
	require.Negative(t, bytes.Compare(GCKey(1), GCKey(1<<40)))
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want []byte
	}{
		{"empty", nil, nil},
		{"simple", []byte{'a'}, []byte{'b'}},
		{"trailing ff", []byte{'a', 0xFF, 0xFF}, []byte{'b'}},
		{"all ff", []byte{0xFF, 0xFF}, nil},
		{"escape", []byte{'a', 0x00, 0xFF}, []byte{'a', 0x01}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]byte(nil), tc.in...)
			require.Equal(t, tc.want, PrefixEnd(in))
			require.Equal(t, tc.in, []byte(in), "input must not be modified")
		})
	}
}

func TestSystemAndTableKeys(t *testing.T) {
	require.Equal(t, []byte("Sapplied"), SystemKey(SysApplied))
	require.Equal(t, []byte{TableNode}, TablePrefix(TableNode))
	require.Equal(t, []byte{'a', 0}, Successor([]byte{'a'}))
	require.True(t, bytes.HasPrefix(VersionIndexKey("b", "k", "v"), []byte{TableVersionIndex}))
	require.NotEqual(t, VersionIndexKey("b", "k", "v1"), VersionIndexKey("b", "kv", "1"))
}

// alphabet biases random strings toward bytes that stress the escaping and
// the delimiter logic.
var alphabet = []string{"\x00", "\x01", "\xff", "/", "a", "b", "z", "é", "日", "\x00\xff"}

func randString(r *rand.Rand, maxParts int) string {
	var sb strings.Builder
	for n := r.IntN(maxParts + 1); n > 0; n-- {
		sb.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	return sb.String()
}

func TestObjectKeyOrderProperty(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, seed))
	type pair struct{ bucket, key string }
	pairs := make([]pair, 2000)
	for i := range pairs {
		pairs[i] = pair{randString(r, 3), randString(r, 6)}
	}
	byRaw := slices.Clone(pairs)
	slices.SortStableFunc(byRaw, func(a, b pair) int {
		return cmp.Or(strings.Compare(a.bucket, b.bucket), strings.Compare(a.key, b.key))
	})
	byEnc := slices.Clone(pairs)
	slices.SortStableFunc(byEnc, func(a, b pair) int {
		return bytes.Compare(ObjectKey(a.bucket, a.key), ObjectKey(b.bucket, b.key))
	})
	require.Equal(t, byRaw, byEnc)

	for _, p := range pairs {
		k := ObjectKey(p.bucket, p.key)
		bucket, key, err := DecodeObjectKey(k)
		require.NoError(t, err)
		require.Equal(t, p, pair{bucket, key})
		// Every raw prefix of the key maps to a byte prefix of the encoding,
		// and the key lies strictly below that prefix's end.
		for i := 0; i <= len(p.key); i++ {
			pre := ObjectPrefix(p.bucket, p.key[:i])
			require.True(t, bytes.HasPrefix(k, pre))
			require.Negative(t, bytes.Compare(k, PrefixEnd(pre)))
		}
	}
}

// TestObjectPrefixExact checks that a prefix encoding matches exactly the
// keys that start with the raw prefix.
func TestObjectPrefixExact(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, ^seed))
	for range 5000 {
		key, prefix := randString(r, 5), randString(r, 2)
		enc, pre := ObjectKey("b", key), ObjectPrefix("b", prefix)
		require.Equal(t, strings.HasPrefix(key, prefix), bytes.HasPrefix(enc, pre), "key %q prefix %q", key, prefix)
		end := PrefixEnd(pre)
		inRange := bytes.Compare(enc, pre) >= 0 && bytes.Compare(enc, end) < 0
		require.Equal(t, strings.HasPrefix(key, prefix), inRange, "key %q prefix %q", key, prefix)
	}
}

func FuzzObjectKey(f *testing.F) {
	seeds := [][4]string{
		{"", "", "", ""},
		{"a", "bc", "ab", "c"},
		{"b", "a\x00", "b", "a"},
		{"b", "a\x00\xff", "b", "a\x01"},
		{"\xff", "日本", "\x00", "/x/"},
		{"bucket", "photos/2024/", "bucket", "photos/2024"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, b1, k1, b2, k2 string) {
		e1, e2 := ObjectKey(b1, k1), ObjectKey(b2, k2)
		gb, gk, err := DecodeObjectKey(e1)
		if err != nil || gb != b1 || gk != k1 {
			t.Fatalf("round trip (%q, %q) = (%q, %q, %v)", b1, k1, gb, gk, err)
		}
		want := cmp.Or(strings.Compare(b1, b2), strings.Compare(k1, k2))
		if got := bytes.Compare(e1, e2); got != want {
			t.Fatalf("order of (%q,%q) vs (%q,%q): encoded %d, raw %d", b1, k1, b2, k2, got, want)
		}
		pre := ObjectPrefix(b2, k2)
		if got, want := bytes.HasPrefix(e1, pre), b1 == b2 && strings.HasPrefix(k1, k2); got != want {
			t.Fatalf("prefix (%q,%q) of (%q,%q): encoded %v, raw %v", b2, k2, b1, k1, got, want)
		}
		// Arbitrary bytes must decode or fail cleanly, never panic.
		_, _, _ = DecodeObjectKey([]byte(k1))
		_, _, _, _ = DecodeVersionKey([]byte(k2))
	})
}
