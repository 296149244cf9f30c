package checksum

import (
	"encoding/base64"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

func sum(a Algorithm, b []byte) string {
	h := a.New()
	h.Write(b)
	return Encode(h.Sum(nil))
}

func TestFullObjectMatchesWholeBody(t *testing.T) {
	seed := uint64(7)
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, seed))
	splits := [][]int{
		{0},
		{1},
		{5, 0},
		{0, 5},
		{1, 1, 1},
		{100, 3, 4096, 1},
		{1 << 20, 1<<20 + 17, 333},
		{7, 0, 9, 65536},
	}
	for _, alg := range []Algorithm{CRC32, CRC32C, CRC64NVME} {
		for _, sizes := range splits {
			t.Run(string(alg)+" "+strconv.Itoa(len(sizes))+" parts", func(t *testing.T) {
				var whole []byte
				var parts []Part
				for _, n := range sizes {
					b := make([]byte, n)
					for i := range b {
						b[i] = byte(r.Uint32())
					}
					whole = append(whole, b...)
					parts = append(parts, Part{Value: sum(alg, b), Size: int64(n)})
				}
				got, err := FullObject(alg, parts)
				require.NoError(t, err)
				require.Equal(t, sum(alg, whole), got)
			})
		}
	}
}

func TestFullObjectErrors(t *testing.T) {
	_, err := FullObject(SHA256, []Part{{Value: sum(SHA256, nil)}})
	require.ErrorIs(t, err, ErrNotCombinable)
	_, err = FullObject(CRC32, []Part{{Value: "not base64!"}})
	require.Error(t, err)
	_, err = FullObject(CRC32, []Part{{Value: sum(CRC64NVME, nil)}})
	require.Error(t, err)
	require.True(t, CRC32C.Combinable())
	require.False(t, SHA1.Combinable())
}

func TestComposite(t *testing.T) {
	a, b := sum(CRC32, []byte("hello")), sum(CRC32, []byte("world"))
	raw := append(mustDecode(t, a), mustDecode(t, b)...)
	got, err := Composite(CRC32, []string{a, b})
	require.NoError(t, err)
	require.Equal(t, sum(CRC32, raw)+"-2", got)

	// A known AWS value: SHA256 composite of one part is the SHA256 of
	// the part's raw SHA256.
	one := sum(SHA256, []byte("x"))
	got, err = Composite(SHA256, []string{one})
	require.NoError(t, err)
	require.Equal(t, sum(SHA256, mustDecode(t, one))+"-1", got)

	_, err = Composite(CRC32, []string{"AAAA"})
	require.Error(t, err)
	_, err = Composite("MD5", []string{a})
	require.ErrorIs(t, err, ErrUnknownAlgorithm)
}

func mustDecode(t *testing.T, v string) []byte {
	t.Helper()
	raw, err := decodeB64(v)
	require.NoError(t, err)
	return raw
}

func decodeB64(v string) ([]byte, error) { return base64.StdEncoding.DecodeString(v) }
