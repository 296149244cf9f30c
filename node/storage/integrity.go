package storage

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/cairn-io/cairn/erasure/bitrot"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// expect fails with bitrot.ErrDigestMismatch (corrupt) unless the shard's
// digest is want: a stale, misplaced or forged file is never served. The
// digest comes from the trailer, so this costs no read of the data.
func (sf *shardFile) expect(want []byte) error {
	got, err := sf.digestOf()
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%w: shard has %x, expected %x", bitrot.ErrDigestMismatch, got, want)
	}
	return nil
}

// verify reads every block of the shard through ra (the file itself, or
// the scrubber's rate-limited view of it), checks each checksum and
// recomputes the digest, which must match the trailer's and, when set,
// want.
func (sf *shardFile) verify(ra io.ReaderAt, want []byte) (bitrot.Info, error) {
	info, err := bitrot.Verify(ra, sf.framedLen, sf.name)
	if err != nil {
		return bitrot.Info{}, err
	}
	if len(want) > 0 && !bytes.Equal(info.Digest, want) {
		return bitrot.Info{}, fmt.Errorf("%w: shard has %x, expected %x", bitrot.ErrDigestMismatch, info.Digest, want)
	}
	return info, nil
}

// VerifyShard implements storagepb.StorageServer. It reads the whole shard
// at the caller's pace (the caller, a bucket scrub or the repairer, bounds
// how many it asks for), not through the scrubber's rate limit.
func (v *service) VerifyShard(ctx context.Context, req *storagepb.VerifyShardRequest) (*storagepb.VerifyShardResponse, error) {
	info, err := v.s.verifyShard(ctx, req)
	if err != nil {
		return nil, v.s.fail(ctx, "verify", req.GetRef(), err)
	}
	return &storagepb.VerifyShardResponse{Digest: info.Digest, Size: uint64(info.DataSize)}, nil
}

func (s *Server) verifyShard(ctx context.Context, req *storagepb.VerifyShardRequest) (bitrot.Info, error) {
	d, id, err := s.resolve(req.GetRef())
	if err != nil {
		return bitrot.Info{}, err
	}
	sf, err := d.open(id)
	if err != nil {
		return bitrot.Info{}, err
	}
	defer sf.f.Close()
	info, err := sf.verify(ctxReaderAt{ctx: ctx, r: sf.f}, req.GetExpectDigest())
	if err != nil {
		return bitrot.Info{}, fmt.Errorf("storage: verify shard %s: %w", id, err)
	}
	return info, nil
}

// ctxReaderAt stops a long read between two ReadAt calls once ctx ends.
type ctxReaderAt struct {
	ctx context.Context
	r   io.ReaderAt
}

func (c ctxReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.ReadAt(p, off)
}

// Scrub implements storagepb.StorageServer: it starts a scrub pass now.
func (v *service) Scrub(context.Context, *storagepb.ScrubRequest) (*storagepb.ScrubResponse, error) {
	return &storagepb.ScrubResponse{Started: v.s.scrub.trigger()}, nil
}
