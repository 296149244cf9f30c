package sse

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func testBody(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func encryptAll(t testing.TB, l Layout, plain, key, nonce []byte) []byte {
	t.Helper()
	r, err := l.NewEncryptReader(bytes.NewReader(plain), key, nonce)
	require.NoError(t, err)
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	return out
}

// decryptRange maps the plaintext range to the stored range, feeds exactly
// those stored bytes in chunks of the given size and returns the plaintext.
func decryptRange(l Layout, stored, key, nonce []byte, plainSize, off, n int64, chunk int) ([]byte, error) {
	sOff, sLen, err := l.PlainRangeToStored(off, n, plainSize)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	d, err := l.NewDecryptWriter(&out, key, nonce, plainSize, off, n)
	if err != nil {
		return nil, err
	}
	src := stored[sOff : sOff+sLen]
	for len(src) > 0 {
		c := min(chunk, len(src))
		if _, err := d.Write(src[:c]); err != nil {
			return nil, err
		}
		src = src[c:]
	}
	if err := d.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func TestRoundTripSizesAndRanges(t *testing.T) {
	layouts := []Layout{{PackageSize: 16}, {PackageSize: 1000}, DefaultLayout}
	key, nonce := NewDataKey(), NewNonce()
	for _, l := range layouts {
		p := int(l.pkg())
		sizes := []int{0, 1, p - 1, p, p + 1, 2*p - 1, 2 * p, 3*p + 7, 5 * p}
		for _, size := range sizes {
			plain := testBody(uint64(size), size)
			stored := encryptAll(t, l, plain, key, nonce)
			require.Equal(t, l.EncryptedSize(int64(size)), int64(len(stored)), "layout %d size %d", p, size)
			require.False(t, size > 16 && bytes.Contains(stored, plain[:16]), "plaintext visible")
			if size == 0 {
				continue
			}
			s := int64(size)
			ranges := []struct {
				name   string
				off, n int64
			}{
				{"whole", 0, s},
				{"first byte", 0, 1},
				{"last byte", s - 1, 1},
				{"suffix", s - min(s, int64(p)/2+1), min(s, int64(p)/2+1)},
				{"open end", s / 2, s - s/2},
				{"middle", s / 3, max(1, s/3)},
				{"one package", int64(p), int64(p)},
				{"across boundary", int64(p) - 1, 2},
				{"across two boundaries", int64(p) - 1, int64(p) + 2},
			}
			for _, rg := range ranges {
				rg.off = min(max(rg.off, 0), s-1)
				rg.n = min(max(rg.n, 1), s-rg.off)
				for _, chunk := range []int{1, 7, p + Overhead, 1 << 20} {
					got, err := decryptRange(l, stored, key, nonce, s, rg.off, rg.n, chunk)
					require.NoError(t, err, "layout %d size %d range %s chunk %d", p, size, rg.name, chunk)
					require.Equal(t, plain[rg.off:rg.off+rg.n], got, "layout %d size %d range %s", p, size, rg.name)
				}
			}
		}
	}
}

func TestPlainRangeToStored(t *testing.T) {
	l := Layout{PackageSize: 10}
	const ps = 10 + Overhead
	tests := []struct {
		name            string
		off, n, size    int64
		wantOff, wantLn int64
		wantErr         bool
	}{
		{"whole single", 0, 5, 5, 0, 5 + Overhead, false},
		{"first package", 0, 10, 25, 0, ps, false},
		{"second package", 10, 10, 25, ps, ps, false},
		{"inside last short", 21, 2, 25, 2 * ps, 5 + Overhead, false},
		{"across", 9, 2, 25, 0, 2 * ps, false},
		{"exact multiple last", 10, 10, 20, ps, ps, false},
		{"zero length", 0, 0, 5, 0, 0, true},
		{"past end", 5, 1, 5, 0, 0, true},
		{"negative", -1, 1, 5, 0, 0, true},
		{"too long", 3, 3, 5, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			off, n, err := l.PlainRangeToStored(tt.off, tt.n, tt.size)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrInvalidRange)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantOff, off)
			require.Equal(t, tt.wantLn, n)
		})
	}
}

func TestTamperingDetected(t *testing.T) {
	l := Layout{PackageSize: 32}
	key, nonce := NewDataKey(), NewNonce()
	plain := testBody(7, 32*4+5)
	size := int64(len(plain))
	stored := encryptAll(t, l, plain, key, nonce)
	ps := 32 + Overhead

	swap := func(b []byte, i, j int) []byte {
		c := bytes.Clone(b)
		copy(c[i*ps:(i+1)*ps], b[j*ps:(j+1)*ps])
		copy(c[j*ps:(j+1)*ps], b[i*ps:(i+1)*ps])
		return c
	}
	flip := bytes.Clone(stored)
	flip[ps+3] ^= 1
	dupFirst := bytes.Clone(stored)
	copy(dupFirst[ps:2*ps], stored[:ps])

	tests := []struct {
		name   string
		stored []byte
		key    []byte
		nonce  []byte
		size   int64
		want   error
	}{
		{"bit flip", flip, key, nonce, size, ErrAuthentication},
		{"reordered", swap(stored, 0, 1), key, nonce, size, ErrAuthentication},
		{"duplicated", dupFirst, key, nonce, size, ErrAuthentication},
		{"wrong key", stored, NewDataKey(), nonce, size, ErrAuthentication},
		{"wrong nonce", stored, key, NewNonce(), size, ErrAuthentication},
		// Dropping the short last package and claiming the body ended
		// with the previous full one: that package is not marked final.
		{"truncated at package boundary", stored[:4*ps], key, nonce, 4 * 32, ErrAuthentication},
		// Claiming a longer body makes the real final package non-final.
		{"extended", append(bytes.Clone(stored), make([]byte, 40)...), key, nonce, size + 24, ErrAuthentication},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decryptRange(l, tt.stored, tt.key, tt.nonce, tt.size, 0, tt.size, 1<<20)
			require.ErrorIs(t, err, tt.want)
		})
	}

	t.Run("stream ends early", func(t *testing.T) {
		var out bytes.Buffer
		d, err := l.NewDecryptWriter(&out, key, nonce, size, 0, size)
		require.NoError(t, err)
		_, err = d.Write(stored[:len(stored)-1])
		require.NoError(t, err)
		require.ErrorIs(t, d.Close(), ErrTruncated)
	})
	t.Run("bytes past the range", func(t *testing.T) {
		var out bytes.Buffer
		d, err := l.NewDecryptWriter(&out, key, nonce, size, 0, 10)
		require.NoError(t, err)
		_, err = d.Write(stored[:ps+1])
		require.ErrorIs(t, err, ErrInvalidRange)
	})
	t.Run("no plaintext of a damaged package is written", func(t *testing.T) {
		var out bytes.Buffer
		d, err := l.NewDecryptWriter(&out, key, nonce, size, 0, size)
		require.NoError(t, err)
		_, err = d.Write(flip)
		require.ErrorIs(t, err, ErrAuthentication)
		require.Equal(t, plain[:32], out.Bytes(), "only the intact first package")
	})
}

func TestEncryptReaderPassesSourceErrors(t *testing.T) {
	boom := errors.New("boom")
	r, err := NewEncryptReader(io.MultiReader(bytes.NewReader(make([]byte, 100)), &errReader{boom}), NewDataKey(), NewNonce())
	require.NoError(t, err)
	_, err = io.ReadAll(r)
	require.ErrorIs(t, err, boom)
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }

func TestInvalidParameters(t *testing.T) {
	_, err := NewEncryptReader(bytes.NewReader(nil), make([]byte, 16), NewNonce())
	require.ErrorIs(t, err, ErrInvalidKey)
	_, err = NewEncryptReader(bytes.NewReader(nil), NewDataKey(), make([]byte, 12))
	require.ErrorIs(t, err, ErrInvalidKey)
	_, err = Layout{PackageSize: MaxPackageSize + 1}.NewEncryptReader(bytes.NewReader(nil), NewDataKey(), NewNonce())
	require.ErrorIs(t, err, ErrInvalidRange)
	_, err = NewDecryptWriter(io.Discard, NewDataKey(), NewNonce(), 10, 5, 6)
	require.ErrorIs(t, err, ErrInvalidRange)
}

func TestNoncesAndKeysAreFresh(t *testing.T) {
	require.NotEqual(t, NewDataKey(), NewDataKey())
	require.NotEqual(t, NewNonce(), NewNonce())
}

// FuzzDecryptRange checks that any plaintext and range round-trips, and that
// a flipped stored byte is always detected.
func FuzzDecryptRange(f *testing.F) {
	f.Add([]byte("hello, world"), uint16(0), uint16(12), uint16(3))
	f.Add(make([]byte, 100), uint16(31), uint16(40), uint16(64))
	f.Add(make([]byte, 64), uint16(63), uint16(1), uint16(0))
	key, nonce := NewDataKey(), NewNonce()
	l := Layout{PackageSize: 32}
	f.Fuzz(func(t *testing.T, plain []byte, off, n, flip uint16) {
		size := int64(len(plain))
		stored := encryptAll(t, l, plain, key, nonce)
		require.Equal(t, l.EncryptedSize(size), int64(len(stored)))
		if size == 0 {
			return
		}
		o := int64(off) % size
		ln := 1 + int64(n)%(size-o)
		got, err := decryptRange(l, stored, key, nonce, size, o, ln, 13)
		require.NoError(t, err)
		require.Equal(t, plain[o:o+ln], got)

		bad := bytes.Clone(stored)
		bad[int(flip)%len(bad)] ^= 0x80
		_, err = decryptRange(l, bad, key, nonce, size, 0, size, 13)
		require.ErrorIs(t, err, ErrAuthentication)
	})
}
