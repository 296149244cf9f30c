package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"google.golang.org/grpc"

	"github.com/cairn-io/cairn/proto/storagepb"
)

const (
	// defaultListPage is the page of a ListShards request without one.
	defaultListPage = 1000
	// maxListPage caps the page a ListShards request may ask for, and so
	// the memory one listing holds.
	maxListPage = 10000
)

// ListShards implements storagepb.StorageServer.
func (v *service) ListShards(req *storagepb.ListShardsRequest, stream grpc.ServerStreamingServer[storagepb.ListShardsResponse]) error {
	if err := v.s.listShards(stream.Context(), req, stream.Send); err != nil {
		return v.s.fail(stream.Context(), "list", &storagepb.ShardRef{DriveId: req.GetDriveId()}, err)
	}
	return nil
}

// listShards sends, drive by drive in Config.Drives order, pages of the
// shards modified before the request's cutoff. A page holds shards of one
// drive only.
func (s *Server) listShards(ctx context.Context, req *storagepb.ListShardsRequest, send func(*storagepb.ListShardsResponse) error) error {
	ids := s.order
	if id := req.GetDriveId(); id != "" {
		if _, err := s.drive(id); err != nil {
			return err
		}
		ids = []string{id}
	}
	if req.GetOlderThanUnixNano() <= 0 {
		return nil
	}
	before := time.Unix(0, req.GetOlderThanUnixNano())
	page := int(req.GetPageSize())
	if page == 0 {
		page = defaultListPage
	}
	page = min(page, maxListPage)
	for _, id := range ids {
		resp := &storagepb.ListShardsResponse{DriveId: id}
		err := s.drives[id].walk(ctx, before, func(shardID string, mtime time.Time) error {
			resp.Shards = append(resp.Shards, &storagepb.ListedShard{ShardId: shardID, MtimeUnixNano: mtime.UnixNano()})
			if len(resp.Shards) < page {
				return nil
			}
			err := send(resp)
			resp = &storagepb.ListShardsResponse{DriveId: id}
			return err
		})
		if err != nil {
			return fmt.Errorf("storage: list shards of drive %s: %w", id, err)
		}
		if len(resp.Shards) > 0 {
			if err := send(resp); err != nil {
				return fmt.Errorf("storage: list shards of drive %s: %w", id, err)
			}
		}
	}
	return nil
}

// walk calls fn for every committed shard of the drive last modified
// before the cutoff, one fan-out directory at a time in name order. It
// lists only regular files with a valid shard ID that sit in their own
// fan-out directory, so that a DeleteShard of a listed ID removes exactly
// the file listed; temp files are never visited. Entries that vanish
// during the walk (a concurrent delete) are skipped.
func (d *drive) walk(ctx context.Context, before time.Time, fn func(shardID string, mtime time.Time) error) error {
	top, err := d.readDir(d.path(shardsDir))
	if err != nil {
		return err
	}
	for _, a := range top {
		hi, ok := fanoutByte(a)
		if !ok {
			continue
		}
		subs, err := d.readDir(d.path(shardsDir, a.Name()))
		if err != nil {
			return err
		}
		for _, b := range subs {
			lo, ok := fanoutByte(b)
			if !ok {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			f := uint16(hi)<<8 | uint16(lo)
			if err := d.walkDir(f, before, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *drive) walkDir(f uint16, before time.Time, fn func(string, time.Time) error) error {
	_, dir := d.fanoutDir(f)
	ents, err := d.readDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || validShardID(name) != nil || fanout(name) != f {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("stat shard %s: %w", name, err)
		}
		if !fi.ModTime().Before(before) {
			continue
		}
		if err := fn(name, fi.ModTime()); err != nil {
			return err
		}
	}
	return nil
}

// readDir lists dir; a directory that does not exist (removed meanwhile,
// or never created) is empty.
func (d *drive) readDir(dir string) ([]os.DirEntry, error) {
	ents, err := d.fs.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read dir: %w", err)
	}
	return ents, nil
}

// fanoutByte parses the name of a fan-out directory: two lowercase hex
// digits, as fanoutDir writes them.
func fanoutByte(e os.DirEntry) (byte, bool) {
	name := e.Name()
	if !e.IsDir() || len(name) != 2 {
		return 0, false
	}
	var b byte
	for i := 0; i < 2; i++ {
		c := name[i]
		switch {
		case c >= '0' && c <= '9':
			b = b<<4 | (c - '0')
		case c >= 'a' && c <= 'f':
			b = b<<4 | (c - 'a' + 10)
		default:
			return 0, false
		}
	}
	return b, true
}
