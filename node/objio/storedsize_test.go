package objio_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStoredSizeAddressesShardBytes: for encrypted bodies the record's
// size is the plaintext size and stored_size the bytes in the shards;
// ReadBody addresses the stored bytes.
func TestStoredSizeAddressesShardBytes(t *testing.T) {
	s, _ := newStore(t, 6)
	data := payload(11, 100_000)
	b := put(t, s, small, data)
	v := version(b)
	v.Size = 90_000 // plaintext smaller than what the shards hold
	v.StoredSize = b.Size
	var out bytes.Buffer
	require.NoError(t, s.ReadBody(context.Background(), v, 95_000, 5_000, &out))
	require.Equal(t, data[95_000:], out.Bytes())
	require.Error(t, s.ReadBody(context.Background(), v, 95_000, 5_001, &out), "beyond the stored bytes")
}
