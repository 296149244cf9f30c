package repair

import (
	"bytes"
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// Scrub starts a scrub pass: of one bucket (req.Bucket: the leader
// verifies every shard of every body in it against its recorded digest,
// at the repair bandwidth, in the background), of one storage node
// (req.NodeId) or of every storage node (neither): those run on the
// storage nodes. It returns the bodies (bucket) or nodes the pass was
// started on.
func (r *Repairer) Scrub(ctx context.Context, req *metapb.ScrubRequest) (uint32, error) {
	if req.GetBucket() != "" {
		return r.startBucketScrub(ctx, req.GetBucket())
	}
	cctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
	defer cancel()
	m, err := r.cfg.Metadata.ClusterMap(cctx)
	if err != nil {
		return 0, fmt.Errorf("repair: scrub: cluster map: %w", err)
	}
	var nodes []string
	for _, n := range m.GetNodes() {
		if req.GetNodeId() != "" && n.GetNodeId() != req.GetNodeId() {
			continue
		}
		if req.GetNodeId() == "" && (!n.GetUp() || n.GetDown()) {
			continue
		}
		nodes = append(nodes, n.GetNodeId())
	}
	if req.GetNodeId() != "" && len(nodes) == 0 {
		return 0, fmt.Errorf("%w: %q", ErrNoSuchNode, req.GetNodeId())
	}
	var started uint32
	var unsupported, failed []error
	for _, id := range nodes {
		_, err := r.cfg.Shards.Scrub(cctx, id)
		switch {
		case err == nil:
			started++
		case status.Code(err) == codes.Unimplemented:
			unsupported = append(unsupported, err)
		default:
			failed = append(failed, fmt.Errorf("node %s: %w", id, err))
		}
	}
	if started == 0 && len(unsupported) > 0 {
		return 0, fmt.Errorf("%w (%d nodes answered Unimplemented)", ErrScrubUnsupported, len(unsupported))
	}
	if started == 0 && len(failed) > 0 {
		return 0, fmt.Errorf("repair: scrub: %w", failed[0])
	}
	return started, nil
}

func (r *Repairer) startBucketScrub(ctx context.Context, bucket string) (uint32, error) {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
	defer cancel()
	ok, err := r.cfg.Metadata.HasBucket(cctx, bucket)
	if err != nil {
		return 0, fmt.Errorf("repair: scrub %s: %w", bucket, err)
	}
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrNoSuchBucket, bucket)
	}
	var n uint32
	err = r.eachBody(ctx, bucket, func(Body) bool { n++; return true })
	if err != nil {
		return 0, err
	}
	select {
	case r.jobs <- bucket:
		return n, nil
	default:
		return 0, ErrBusy
	}
}

// eachBody calls fn for every body of bucket until fn returns false.
func (r *Repairer) eachBody(ctx context.Context, bucket string, fn func(Body) bool) error {
	var cursor []byte
	for {
		cctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
		bodies, next, err := r.cfg.Metadata.ScanBodies(cctx, cursor, r.cfg.PageSize)
		cancel()
		if err != nil {
			return fmt.Errorf("repair: scan %s: %w", bucket, err)
		}
		for _, b := range bodies {
			if b.Bucket == bucket && !fn(b) {
				return nil
			}
		}
		if next == nil {
			return nil
		}
		cursor = next
	}
}

// runScrubs runs queued bucket scrubs one at a time until ctx ends.
func (r *Repairer) runScrubs(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case bucket := <-r.jobs:
			r.log.Info("repair: bucket scrub started", "bucket", bucket)
			if err := r.scrubBucket(ctx, bucket); err != nil && ctx.Err() == nil {
				r.log.Warn("repair: bucket scrub incomplete", "bucket", bucket, "err", err)
			}
		}
	}
}

// scrubBucket verifies every shard of the bucket's bodies.
func (r *Repairer) scrubBucket(ctx context.Context, bucket string) error {
	r.mu.Lock()
	r.mu.fig.scrubVerified, r.mu.fig.scrubDamage = 0, 0
	r.mu.Unlock()
	var werr error
	err := r.eachBody(ctx, bucket, func(b Body) bool {
		for i, sh := range b.Shards {
			if err := r.lim.wait(ctx, int(b.shardSize())); err != nil {
				werr = err
				return false
			}
			var expect []byte
			if i < len(b.Digests) {
				expect = b.Digests[i]
			}
			damaged, err := r.verify(ctx, b.DataID, i, sh, expect)
			if err != nil {
				// The node is unreachable or cannot tell: not the
				// shard's fault; liveness deals with nodes.
				r.log.Debug("repair: scrub could not verify shard", "shard", shardID(b.DataID, i), "node", sh.GetNodeId(), "err", err)
				continue
			}
			r.mu.Lock()
			r.mu.fig.scrubVerified++
			if damaged {
				r.mu.fig.scrubDamage++
			}
			r.mu.Unlock()
			if damaged {
				r.log.Info("repair: scrub found a damaged shard", "shard", shardID(b.DataID, i), "node", sh.GetNodeId())
				r.markDamaged(b, i)
				select {
				case r.kick <- struct{}{}:
				default:
				}
			}
		}
		return true
	})
	if werr != nil {
		return werr
	}
	return err
}

// verify checks one shard: VerifyShard where the storage node has it,
// else (Unimplemented) StatShard, which finds missing shards only.
func (r *Repairer) verify(ctx context.Context, dataID string, i int, sh *metapb.ShardPlacement, expect []byte) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
	defer cancel()
	ref := &storagepb.ShardRef{DriveId: sh.GetDriveId(), ShardId: shardID(dataID, i)}
	resp, err := r.cfg.Shards.VerifyShard(cctx, sh.GetNodeId(), &storagepb.VerifyShardRequest{Ref: ref, ExpectDigest: expect})
	if status.Code(err) == codes.Unimplemented {
		_, err = r.cfg.Shards.StatShard(cctx, sh.GetNodeId(), &storagepb.StatShardRequest{Ref: ref})
	}
	switch status.Code(err) {
	case codes.OK:
	case codes.NotFound, codes.DataLoss:
		return true, nil
	default:
		return false, err
	}
	if len(expect) > 0 && resp != nil && len(resp.GetDigest()) > 0 && !bytes.Equal(expect, resp.GetDigest()) {
		return true, nil
	}
	return false, nil
}
