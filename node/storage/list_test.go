package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"

	"github.com/cairn-io/cairn/proto/storagepb"
)

// listAll drains a ListShards stream into drive ID → shard IDs, checking
// the page size and that pages never mix drives.
func listAll(ctx context.Context, t *testing.T, c storagepb.StorageClient, req *storagepb.ListShardsRequest) (map[string][]string, int, error) {
	t.Helper()
	stream, err := c.ListShards(ctx, req)
	if err != nil {
		return nil, 0, err
	}
	out := map[string][]string{}
	pages := 0
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, pages, nil
		}
		if err != nil {
			return out, pages, err
		}
		pages++
		require.NotEmpty(t, resp.GetShards(), "a page is never empty")
		if req.GetPageSize() > 0 {
			require.LessOrEqual(t, len(resp.GetShards()), int(req.GetPageSize()))
		}
		for _, sh := range resp.GetShards() {
			require.Less(t, sh.GetMtimeUnixNano(), req.GetOlderThanUnixNano())
			out[resp.GetDriveId()] = append(out[resp.GetDriveId()], sh.GetShardId())
		}
	}
}

// age sets a shard's mtime.
func age(t *testing.T, e *env, driveID, shardID string, mtime time.Time) {
	t.Helper()
	d, err := e.srv.drive(driveID)
	require.NoError(t, err)
	require.NoError(t, os.Chtimes(d.shardPath(shardID), mtime, mtime))
}

func TestListShards(t *testing.T) {
	e := startServer(t, Config{Drives: []string{t.TempDir(), t.TempDir(), t.TempDir()}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	drives := e.srv.DriveIDs()
	now := time.Now()
	old := now.Add(-time.Hour)
	cutoff := now.Add(-time.Minute)

	// 150 shards on each of the first two drives: two in three are old.
	// The third drive holds only young shards.
	want := map[string][]string{}
	for di, driveID := range drives {
		for i := range 150 {
			id := fmt.Sprintf("data%03d.%d", i, di)
			_, err := writeShard(ctx, e.client, ref(driveID, id), 64, []byte("x"), 1)
			require.NoError(t, err)
			if di < 2 && i%3 != 0 {
				age(t, e, driveID, id, old)
				want[driveID] = append(want[driveID], id)
			}
		}
	}
	// One shard exactly at the cutoff is not older than it.
	_, err := writeShard(ctx, e.client, ref(drives[0], "edge.0"), 64, []byte("x"), 1)
	require.NoError(t, err)
	age(t, e, drives[0], "edge.0", cutoff)

	// Neither temp files, nor files with invalid names, nor shards outside
	// their fan-out directory, nor foreign directories are listed.
	root := e.drives[0]
	require.NoError(t, os.WriteFile(filepath.Join(root, tmpDir, "pending"), nil, 0o644))
	d0, err := e.srv.drive(drives[0])
	require.NoError(t, err)
	_, dir := d0.fanoutDir(fanout("data001.0"))
	require.NotEqual(t, fanout("data001.0"), fanout("misplaced.0"))
	for _, name := range []string{"bad name", "misplaced.0"} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, nil, 0o644))
		require.NoError(t, os.Chtimes(p, old, old))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(root, shardsDir, "zz", "00"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, shardsDir, "zz", "00", "foreign.0"), nil, 0o644))
	require.NoError(t, os.Chtimes(filepath.Join(root, shardsDir, "zz", "00", "foreign.0"), old, old))

	for _, ids := range want {
		sort.Strings(ids)
	}
	sorted := func(m map[string][]string) map[string][]string {
		for _, ids := range m {
			sort.Strings(ids)
		}
		return m
	}

	tests := []struct {
		name      string
		req       *storagepb.ListShardsRequest
		want      map[string][]string
		wantPages int
		code      codes.Code
	}{
		{
			name:      "every drive, small pages",
			req:       &storagepb.ListShardsRequest{OlderThanUnixNano: cutoff.UnixNano(), PageSize: 7},
			want:      want,
			wantPages: 2 * ((100 + 6) / 7),
		},
		{
			name:      "every drive, default pages",
			req:       &storagepb.ListShardsRequest{OlderThanUnixNano: cutoff.UnixNano()},
			want:      want,
			wantPages: 2,
		},
		{
			name:      "one drive",
			req:       &storagepb.ListShardsRequest{DriveId: drives[1], OlderThanUnixNano: cutoff.UnixNano(), PageSize: 1000},
			want:      map[string][]string{drives[1]: want[drives[1]]},
			wantPages: 1,
		},
		{
			name: "the young drive",
			req:  &storagepb.ListShardsRequest{DriveId: drives[2], OlderThanUnixNano: cutoff.UnixNano()},
			want: map[string][]string{},
		},
		{
			name: "cutoff in the far past",
			req:  &storagepb.ListShardsRequest{OlderThanUnixNano: old.Add(-time.Hour).UnixNano()},
			want: map[string][]string{},
		},
		{
			name: "no cutoff lists nothing",
			req:  &storagepb.ListShardsRequest{},
			want: map[string][]string{},
		},
		{
			name: "unknown drive",
			req:  &storagepb.ListShardsRequest{DriveId: "nope", OlderThanUnixNano: cutoff.UnixNano()},
			code: codes.NotFound,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, pages, err := listAll(ctx, t, e.client, tc.req)
			if tc.code != codes.OK {
				requireCode(t, err, tc.code)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, sorted(got))
			require.Equal(t, tc.wantPages, pages)
		})
	}

	// Every shard at or after the cutoff is listed with a later cutoff.
	got, _, err := listAll(ctx, t, e.client, &storagepb.ListShardsRequest{OlderThanUnixNano: now.Add(time.Hour).UnixNano()})
	require.NoError(t, err)
	total := 0
	for _, ids := range got {
		total += len(ids)
	}
	require.Equal(t, 3*150+1, total)
}

// TestListShardsCancel checks that a listing stops when its client goes
// away and that the server joins it.
func TestListShardsCancel(t *testing.T) {
	e := startServer(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	driveID := e.srv.DriveIDs()[0]
	for i := range 20 {
		id := fmt.Sprintf("c%02d.0", i)
		_, err := writeShard(ctx, e.client, ref(driveID, id), 64, []byte("x"), 1)
		require.NoError(t, err)
	}
	lctx, lcancel := context.WithCancel(ctx)
	stream, err := e.client.ListShards(lctx, &storagepb.ListShardsRequest{OlderThanUnixNano: time.Now().Add(time.Hour).UnixNano(), PageSize: 1})
	require.NoError(t, err)
	_, err = stream.Recv()
	require.NoError(t, err)
	lcancel()
	for err == nil {
		_, err = stream.Recv()
	}
	// The server may have sent every page before the cancel reached it.
	if !errors.Is(err, io.EOF) {
		requireCode(t, err, codes.Canceled)
	}
	// Either way it keeps serving whole listings.
	stream, err = e.client.ListShards(ctx, &storagepb.ListShardsRequest{OlderThanUnixNano: time.Now().Add(time.Hour).UnixNano(), PageSize: 7})
	require.NoError(t, err)
	n := 0
	for {
		page, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		n += len(page.GetShards())
	}
	require.Equal(t, 20, n)
}
