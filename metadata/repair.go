package metadata

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/proto/metapb"
)

// RepairShards commits rebuilt shards of one body as a compare-and-set
// (see metapb.RepairShards). The body is found by what the command names:
//
//   - upload_id set: part part_number of that upload in progress;
//   - part_number 0: the version's own body;
//   - otherwise: that part of the (completed multipart) version.
//
// It applies only when the body still has data_id and every move's `from`
// is the placement at its index. A replay of an applied command (every
// moved index already holds its `to`) answers OK and changes nothing. In
// any other case the answer is STALE and the rebuilt shards go to GC:
// a concurrent overwrite, delete or other repair won.
//
// GC entries made here are marked shards_only: the body may still be
// live, so acknowledging them must not drop its commit record.
func (t *txn) repairShards(c *metapb.RepairShards) (*metapb.CommandResult, error) {
	if c.GetBucket() == "" || c.GetKey() == "" || c.GetDataId() == "" || len(c.GetMoves()) == 0 {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "repair shards: empty bucket, key, data ID or moves"), nil
	}
	if c.UploadId == "" && c.VersionId == "" {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "repair shards: neither version nor upload named"), nil
	}
	seen := map[uint32]bool{}
	for _, mv := range c.Moves {
		if mv.GetTo().GetNodeId() == "" || mv.GetTo().GetDriveId() == "" || seen[mv.Index] {
			return result(metapb.ErrorCode_INVALID_ARGUMENT, "repair shards: move of index %d has no target or repeats", mv.Index), nil
		}
		seen[mv.Index] = true
	}
	b, err := t.repairTarget(c)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return t.staleRepair(c, "body %s of %q/%q is gone", c.DataId, c.Bucket, c.Key)
	}
	applied, replayed := true, true
	for _, mv := range c.Moves {
		if int(mv.Index) >= len(*b.shards) {
			return result(metapb.ErrorCode_INVALID_ARGUMENT, "repair shards: index %d of a %d-shard body", mv.Index, len(*b.shards)), nil
		}
		cur := (*b.shards)[mv.Index]
		applied = applied && sameShard(cur, mv.From)
		replayed = replayed && sameShard(cur, mv.To)
	}
	if replayed && !applied {
		return okResult(), nil
	}
	if !applied {
		return t.staleRepair(c, "body %s of %q/%q changed placement", c.DataId, c.Bucket, c.Key)
	}
	n := len(*b.shards)
	replaced := make([]*metapb.ShardPlacement, n)
	anyReplaced := false
	for _, mv := range c.Moves {
		(*b.shards)[mv.Index] = proto.CloneOf(mv.To)
		if d := mv.GetDigest(); len(d) > 0 || len(*b.digests) == n {
			if len(*b.digests) != n {
				*b.digests = make([][]byte, n)
			}
			(*b.digests)[mv.Index] = d
		}
		// A shard rewritten in place (same drive, same name) replaced
		// its old file atomically: there is nothing left to collect.
		if !sameShard(mv.From, mv.To) {
			replaced[mv.Index] = proto.CloneOf(mv.From)
			anyReplaced = true
		}
	}
	if b.underSpread != nil {
		*b.underSpread = c.UnderSpread
	}
	if anyReplaced {
		if err := t.enqueueShards(c.DataId, replaced, c.UnixNano); err != nil {
			return nil, err
		}
	}
	if err := b.save(); err != nil {
		return nil, err
	}
	return okResult(), nil
}

// repairBody is the body a RepairShards names, with pointers into the
// record that holds it and the way to store that record back.
type repairBody struct {
	shards      *[]*metapb.ShardPlacement
	digests     *[][]byte
	underSpread *bool // nil for parts, which have no such flag
	save        func() error
}

// repairTarget finds the body a RepairShards names, or nil when it is
// gone or holds another data ID.
func (t *txn) repairTarget(c *metapb.RepairShards) (*repairBody, error) {
	if c.UploadId != "" {
		pk := keys.PartKey(c.Bucket, c.Key, c.UploadId, c.PartNumber)
		var p metapb.PartInfo
		found, err := getProto(t.b, pk, &p)
		if err != nil || !found || p.DataId != c.DataId {
			return nil, err
		}
		return &repairBody{shards: &p.Shards, digests: &p.ShardDigests, save: func() error { return t.set(pk, &p) }}, nil
	}
	seq, found, err := getUint64(t.b, keys.VersionIndexKey(c.Bucket, c.Key, c.VersionId))
	if err != nil || !found {
		return nil, err
	}
	vk := keys.VersionKey(c.Bucket, c.Key, seq)
	var v metapb.ObjectVersion
	found, err = getProto(t.b, vk, &v)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: index of %q/%q %q points at missing version %d", ErrCorrupt, c.Bucket, c.Key, c.VersionId, seq)
	}
	save := func() error {
		if err := t.set(vk, &v); err != nil {
			return err
		}
		return t.refreshCurrent(c.Bucket, c.Key)
	}
	if c.PartNumber == 0 {
		if v.DataId != c.DataId {
			return nil, nil
		}
		return &repairBody{shards: &v.Shards, digests: &v.ShardDigests, underSpread: &v.UnderSpread, save: save}, nil
	}
	for _, p := range v.Parts {
		if p.Number == c.PartNumber && p.DataId == c.DataId {
			return &repairBody{shards: &p.Shards, digests: &p.ShardDigests, save: save}, nil
		}
	}
	return nil, nil
}

// staleRepair answers STALE and queues the rebuilt shards for GC.
func (t *txn) staleRepair(c *metapb.RepairShards, format string, args ...any) (*metapb.CommandResult, error) {
	var max uint32
	for _, mv := range c.Moves {
		max = maxU32(max, mv.Index)
	}
	rebuilt := make([]*metapb.ShardPlacement, max+1)
	for _, mv := range c.Moves {
		rebuilt[mv.Index] = proto.CloneOf(mv.To)
	}
	if err := t.enqueueShards(c.DataId, rebuilt, c.UnixNano); err != nil {
		return nil, err
	}
	return result(metapb.ErrorCode_STALE, format, args...), nil
}

func maxU32(a, b uint32) uint32 {
	if a > b {
		return a
	}
	return b
}

// enqueueShards queues some shards of a body for deletion; shards[i] nil
// (or empty) means index i is not to be deleted. The entry is
// shards_only: the body's commit record stays.
func (t *txn) enqueueShards(dataID string, shards []*metapb.ShardPlacement, now int64) error {
	for i, sp := range shards {
		if sp == nil {
			shards[i] = &metapb.ShardPlacement{}
		}
	}
	seq, err := t.nextSeq()
	if err != nil {
		return err
	}
	return t.set(keys.GCKey(seq), &metapb.GCEntry{
		Seq:              seq,
		DataId:           dataID,
		Shards:           shards,
		EnqueuedUnixNano: now,
		ShardsOnly:       true,
	})
}

func sameShard(a, b *metapb.ShardPlacement) bool {
	return a.GetNodeId() == b.GetNodeId() && a.GetDriveId() == b.GetDriveId()
}

// setHealPaused records whether the repairer is paused.
func (t *txn) setHealPaused(c *metapb.SetHealPaused) (*metapb.CommandResult, error) {
	v := uint64(0)
	if c.GetPaused() {
		v = 1
	}
	return okResult(), t.b.Set(keys.SystemKey(keys.SysHealPaused), uint64Value(v), nil)
}

// HealPaused reports whether the repairer is paused (SetHealPaused).
func (f *FSM) HealPaused() (bool, error) {
	db, err := f.acquire()
	if err != nil {
		return false, err
	}
	defer f.mu.RUnlock()
	v, _, err := getUint64(db, keys.SystemKey(keys.SysHealPaused))
	if err != nil {
		return false, fmt.Errorf("metadata: read heal pause: %w", err)
	}
	return v == 1, nil
}
