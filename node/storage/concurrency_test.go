package storage

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestConcurrentWrites writes distinct shards and rewrites one shared shard
// from many streams at once; every distinct shard must read back intact and
// the shared one must hold exactly one writer's bytes.
func TestConcurrentWrites(t *testing.T) {
	e := startServer(t, Config{})
	ctx := t.Context()
	drive := e.srv.DriveIDs()[0]
	const writers = 8
	bodies := make([][]byte, writers)
	for i := range bodies {
		bodies[i] = randBytes(uint64(1000+i), 30000+i)
	}
	errs := make([]error, 2*writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			_, errs[2*i] = writeShard(ctx, e.client, ref(drive, fmt.Sprintf("c.%d", i)), 4096, bodies[i], 7000)
		})
		wg.Go(func() {
			_, errs[2*i+1] = writeShard(ctx, e.client, ref(drive, "shared"), 4096, bodies[i], 7000)
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "writer %d", i)
	}
	for i := range writers {
		got, err := readShard(ctx, e.client, ref(drive, fmt.Sprintf("c.%d", i)), 0, 0)
		require.NoError(t, err)
		require.Equal(t, bodies[i], got)
	}
	got, err := readShard(ctx, e.client, ref(drive, "shared"), 0, 0)
	require.NoError(t, err)
	require.Contains(t, bodies, got)
	require.Empty(t, tmpEntries(t, e.drives[0]))
}
