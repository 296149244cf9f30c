package objio_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/objio"
)

// TestConcurrentPutsMD5 runs enough PUTs at once for the multi-lane MD5 and
// checks every ETag digest and body.
func TestConcurrentPutsMD5(t *testing.T) {
	s, _ := newStore(t, 6)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	const n = 8
	errs := make(chan error, n)
	bodies := make([]*objio.Body, n)
	datas := make([][]byte, n)
	for i := range n {
		datas[i] = payload(uint64(i), 3<<20+i*1000)
	}
	for i := range n {
		go func() {
			var err error
			bodies[i], err = s.WriteBody(context.Background(), bytes.NewReader(datas[i]), objio.WriteOptions{Profile: small, Size: int64(len(datas[i]))})
			errs <- err
		}()
	}
	for range n {
		require.NoError(t, <-errs)
	}
	for i, b := range bodies {
		want := md5.Sum(datas[i])
		require.Equal(t, want[:], b.MD5, "body %d", i)
		var got bytes.Buffer
		require.NoError(t, s.ReadBody(context.Background(), version(b), 0, b.Size, &got))
		require.Equal(t, datas[i], got.Bytes(), "body %d", i)
	}
}

// TestNoMD5 stores bodies, inline and on shards, without hashing them: no
// digest comes back and the bytes read back whole.
func TestNoMD5(t *testing.T) {
	s, _ := newStore(t, 6)
	for _, size := range []int{100, 3<<20 + 17} {
		data := payload(uint64(size), size)
		b, err := s.WriteBody(context.Background(), bytes.NewReader(data), objio.WriteOptions{
			Profile: small, Size: int64(size), InlineMax: 1 << 10, NoMD5: true,
		})
		require.NoError(t, err)
		require.Nil(t, b.MD5, "size %d", size)
		if size <= 1<<10 {
			require.Equal(t, data, b.Inline)
			continue
		}
		var got bytes.Buffer
		require.NoError(t, s.ReadBody(context.Background(), version(b), 0, b.Size, &got))
		require.Equal(t, data, got.Bytes(), "size %d", size)
	}
}
