package metadata

import (
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/proto/metapb"
)

// nullVersion is the version ID of objects written while versioning is off
// or suspended.
const nullVersion = "null"

// Apply applies one Raft entry. It returns a *metapb.CommandResult, or an
// error value if the FSM has failed (see ErrFailed).
func (f *FSM) Apply(l *raft.Log) interface{} {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies consecutive Raft entries in one Pebble batch, written
// to Pebble's WAL but not synced (see applyWriteOptions). Each response is a *metapb.CommandResult, or, if the batch could not be
// committed, an error value wrapping ErrFailed.
func (f *FSM) ApplyBatch(logs []*raft.Log) []interface{} {
	out := make([]interface{}, len(logs))
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	if err := f.applyBatch(logs, out); err != nil {
		for i := range out {
			out[i] = err
		}
	}
	return out
}

func (f *FSM) applyBatch(logs []*raft.Log, out []interface{}) error {
	if f.failed != nil {
		return f.failed
	}
	db, err := f.acquire()
	if err != nil {
		return err
	}
	defer f.mu.RUnlock()

	applied := f.applied.Load()
	b := db.NewIndexedBatch()
	defer b.Close()
	t := &txn{b: b}
	last := applied
	for i, l := range logs {
		if l.Index <= applied {
			out[i] = okResult()
			continue
		}
		last = l.Index
		if l.Type != raft.LogCommand {
			out[i] = okResult()
			continue
		}
		res, err := t.apply(l.Data)
		if err != nil {
			return f.fail(fmt.Errorf("apply index %d: %w", l.Index, err))
		}
		out[i] = res
	}
	if last == applied {
		return nil
	}
	if err := t.flush(); err != nil {
		return f.fail(err)
	}
	changed := touchesBuckets(b)
	if err := b.Set(keys.SystemKey(keys.SysApplied), uint64Value(last), nil); err != nil {
		return f.fail(err)
	}
	if err := b.Commit(applyWriteOptions); err != nil {
		return f.fail(fmt.Errorf("commit through index %d: %w", last, err))
	}
	f.applied.Store(last)
	if changed {
		f.changes.noteChange(last)
	}
	return nil
}

// applyWriteOptions is how ApplyBatch commits: without an fsync.
//
// Every entry the FSM applies is committed, so it is already fsync'd in
// this voter's own Raft log (StoreLogs syncs before an entry is
// acknowledged or applied), and the log keeps every entry above the last
// snapshot's index: Raft compacts only entries at or below it. After a
// crash of the process the unsynced WAL is in the page cache and nothing
// is lost; after a crash of the host Pebble recovers a prefix of the
// applied batches (its WAL is sequential, and each batch carries its
// applied index), and Raft, which starts from the last snapshot's index
// (node/meta sets NoSnapshotRestoreOnStart), replays every entry above it;
// the FSM skips those at or below its recovered AppliedIndex. Applying is
// deterministic, so the replay rebuilds exactly the lost state.
//
// That holds only while the FSM is durable up to the last snapshot's
// index: Snapshot syncs before it returns, and Raft compacts its log only
// after the snapshot it took has been persisted. Restore syncs too. A
// synced apply per batch cost every voter an fdatasync per Raft batch on
// the hot path of every write, for state the log already holds.
var applyWriteOptions = pebble.NoSync

func (f *FSM) fail(err error) error {
	f.failed = fmt.Errorf("%w: %w", ErrFailed, err)
	f.log.Error("metadata apply failed; restart required", "err", err)
	return f.failed
}

func okResult() *metapb.CommandResult { return &metapb.CommandResult{} }

func result(code metapb.ErrorCode, format string, args ...any) *metapb.CommandResult {
	return &metapb.CommandResult{Code: code, Message: fmt.Sprintf(format, args...)}
}

// txn applies commands to one indexed batch. Reads through the batch see the
// writes of earlier commands in the same batch. An error returned by a
// handler is a storage failure; rejections are results.
type txn struct {
	b *pebble.Batch

	seq, epoch             uint64
	seqLoaded, epochLoaded bool
	seqDirty, epochDirty   bool

	// putBuckets caches bucket rows (nil: no bucket) for a run of
	// PutObjects; see putBucket.
	putBuckets map[string]*metapb.Bucket

	// enc is set's encoding buffer, reused: the batch copies every value
	// it is given, and a version row carries its inline body.
	enc []byte
}

func (t *txn) apply(data []byte) (*metapb.CommandResult, error) {
	var cmd metapb.Command
	if err := proto.Unmarshal(data, &cmd); err != nil {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "decode command: %v", err), nil
	}
	if _, ok := cmd.Op.(*metapb.Command_PutObject); !ok {
		t.putBuckets = nil
	}
	switch op := cmd.Op.(type) {
	case *metapb.Command_CreateBucket:
		return t.createBucket(op.CreateBucket)
	case *metapb.Command_DeleteBucket:
		return t.deleteBucket(op.DeleteBucket)
	case *metapb.Command_PutObject:
		return t.putObject(op.PutObject)
	case *metapb.Command_DeleteObject:
		return t.deleteObject(op.DeleteObject)
	case *metapb.Command_NodeHeartbeat:
		return t.nodeHeartbeat(op.NodeHeartbeat)
	case *metapb.Command_AckGc:
		return t.ackGC(op.AckGc)
	case *metapb.Command_UpdateBucket:
		return t.updateBucket(op.UpdateBucket)
	case *metapb.Command_UpdateObject:
		return t.updateObject(op.UpdateObject)
	case *metapb.Command_CreateMultipartUpload:
		return t.createMultipartUpload(op.CreateMultipartUpload)
	case *metapb.Command_PutPart:
		return t.putPart(op.PutPart)
	case *metapb.Command_CompleteMultipartUpload:
		return t.completeMultipartUpload(op.CompleteMultipartUpload)
	case *metapb.Command_AbortMultipartUpload:
		return t.abortMultipartUpload(op.AbortMultipartUpload)
	case *metapb.Command_PutUser:
		return t.putUser(op.PutUser)
	case *metapb.Command_DeleteUser:
		return t.deleteUser(op.DeleteUser)
	case *metapb.Command_SetNodeDown:
		return t.setNodeDown(op.SetNodeDown)
	case *metapb.Command_SetDriveState:
		return t.setDriveState(op.SetDriveState)
	case *metapb.Command_RepairShards:
		return t.repairShards(op.RepairShards)
	case *metapb.Command_SetHealPaused:
		return t.setHealPaused(op.SetHealPaused)
	case *metapb.Command_SetMasterKeyCheck:
		return t.setMasterKeyCheck(op.SetMasterKeyCheck)
	case *metapb.Command_SetNodeState:
		return t.setNodeState(op.SetNodeState)
	case *metapb.Command_RemoveNode:
		return t.removeNode(op.RemoveNode)
	case *metapb.Command_SetRebalance:
		return t.setRebalance(op.SetRebalance)
	case *metapb.Command_SetVoterAddress:
		return t.setVoterAddress(op.SetVoterAddress)
	case *metapb.Command_StartKeyRotation:
		return t.startKeyRotation(op.StartKeyRotation)
	case *metapb.Command_FinishKeyRotation:
		return t.finishKeyRotation(op.FinishKeyRotation)
	case *metapb.Command_RewrapSealed:
		return t.rewrapSealed(op.RewrapSealed)
	default:
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "command has no known operation"), nil
	}
}

func (t *txn) set(key []byte, m proto.Message) error {
	v, err := marshalOpts.MarshalAppend(append(t.enc[:0], valueFormat), m)
	if err != nil {
		return fmt.Errorf("encode %q: %w", key, err)
	}
	t.enc = v
	return t.b.Set(key, v, nil)
}

func (t *txn) nextSeq() (uint64, error) {
	if !t.seqLoaded {
		v, _, err := getUint64(t.b, keys.SystemKey(keys.SysSeq))
		if err != nil {
			return 0, fmt.Errorf("read seq: %w", err)
		}
		t.seq, t.seqLoaded = v, true
	}
	t.seq++
	t.seqDirty = true
	return t.seq, nil
}

func (t *txn) bumpEpoch() error {
	if !t.epochLoaded {
		v, _, err := getUint64(t.b, keys.SystemKey(keys.SysEpoch))
		if err != nil {
			return fmt.Errorf("read epoch: %w", err)
		}
		t.epoch, t.epochLoaded = v, true
	}
	t.epoch++
	t.epochDirty = true
	return nil
}

func (t *txn) flush() error {
	if t.seqDirty {
		if err := t.b.Set(keys.SystemKey(keys.SysSeq), uint64Value(t.seq), nil); err != nil {
			return err
		}
	}
	if t.epochDirty {
		if err := t.b.Set(keys.SystemKey(keys.SysEpoch), uint64Value(t.epoch), nil); err != nil {
			return err
		}
	}
	return nil
}

// createBucket rejects an existing name with BUCKET_ALREADY_EXISTS and puts
// the existing bucket's owner in the message, so that the gateway can tell
// BucketAlreadyOwnedByYou from BucketAlreadyExists.
func (t *txn) createBucket(c *metapb.CreateBucket) (*metapb.CommandResult, error) {
	bk := c.GetBucket()
	if bk.GetName() == "" {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "create bucket: empty name"), nil
	}
	var existing metapb.Bucket
	found, err := getProto(t.b, keys.BucketKey(bk.Name), &existing)
	if err != nil {
		return nil, err
	}
	if found {
		return &metapb.CommandResult{Code: metapb.ErrorCode_BUCKET_ALREADY_EXISTS, Message: existing.Owner}, nil
	}
	if bk.ObjectLockEnabled {
		// Object Lock needs versions to protect: S3 enables versioning
		// with it, for good.
		bk.Versioning = metapb.VersioningState_VERSIONING_ENABLED
	}
	return okResult(), t.set(keys.BucketKey(bk.Name), bk)
}

func (t *txn) deleteBucket(c *metapb.DeleteBucket) (*metapb.CommandResult, error) {
	name := c.GetName()
	found, err := getProto(t.b, keys.BucketKey(name), &metapb.Bucket{})
	if err != nil {
		return nil, err
	}
	if !found {
		return result(metapb.ErrorCode_NO_SUCH_BUCKET, "bucket %q", name), nil
	}
	for _, prefix := range [][]byte{keys.ObjectPrefix(name, ""), keys.BucketVersionsPrefix(name)} {
		empty, err := prefixEmpty(t.b, prefix)
		if err != nil {
			return nil, err
		}
		if !empty {
			return result(metapb.ErrorCode_BUCKET_NOT_EMPTY, "bucket %q", name), nil
		}
	}
	if err := t.abortBucketUploads(name, 0); err != nil {
		return nil, err
	}
	return okResult(), t.b.Delete(keys.BucketKey(name), nil)
}

func prefixEmpty(r reader, prefix []byte) (bool, error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: keys.PrefixEnd(prefix)})
	if err != nil {
		return false, err
	}
	empty := !it.First()
	return empty, errors.Join(it.Error(), it.Close())
}

func (t *txn) bucket(name string) (*metapb.Bucket, error) {
	var bk metapb.Bucket
	found, err := getProto(t.b, keys.BucketKey(name), &bk)
	if err != nil || !found {
		return nil, err
	}
	return &bk, nil
}

// putBucket is bucket for PutObject, which never changes a bucket row: a
// run of PutObjects in one batch reads each bucket once (apply forgets the
// rows at any other command). The row must not be modified.
func (t *txn) putBucket(name string) (*metapb.Bucket, error) {
	if bk, ok := t.putBuckets[name]; ok {
		return bk, nil
	}
	bk, err := t.bucket(name)
	if err != nil {
		return nil, err
	}
	if t.putBuckets == nil {
		t.putBuckets = make(map[string]*metapb.Bucket)
	}
	t.putBuckets[name] = bk
	return bk, nil
}

// putObject stores a new version. On a bucket without versioning enabled the
// FSM, not the gateway, decides that the version is "null" (the gateway's
// view of the bucket may be stale), and it replaces the previous null
// version. On an enabled bucket the gateway must supply a real version ID.
func (t *txn) putObject(c *metapb.PutObject) (*metapb.CommandResult, error) {
	v := c.GetVersion()
	if v.GetBucket() == "" || v.GetKey() == "" {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "put object: empty bucket or key"), nil
	}
	if v.DeleteMarker {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "put object: delete markers are created by DeleteObject"), nil
	}
	if r := checkInline(v); r != nil {
		return r, nil
	}
	// A replay answers with the first outcome, before any check that the
	// first commit itself could now fail (see commits.go).
	rec, err := t.bodyRecord(v.DataId)
	if err != nil {
		return nil, err
	}
	if rec != nil {
		return t.replayedPut(v, rec)
	}
	bk, err := t.putBucket(v.Bucket)
	if err != nil {
		return nil, err
	}
	if bk == nil {
		return result(metapb.ErrorCode_NO_SUCH_BUCKET, "bucket %q", v.Bucket), nil
	}
	if bk.Versioning != metapb.VersioningState_VERSIONING_ENABLED {
		v.VersionId = nullVersion
	} else if v.VersionId == "" || v.VersionId == nullVersion {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "put object: versioned bucket %q needs a version ID", v.Bucket), nil
	}
	if res, err := t.putPrecondition(c); err != nil || res != nil {
		return res, err
	}
	if r := applyObjectLock(bk, v); r != nil {
		return r, nil
	}
	// Replacing a version of the same ID removes it: a locked one stays.
	// The version is looked up once: most PUTs create a new one, and
	// each lookup of a missing key costs a search of every level.
	old, oldKey, absent, err := t.lookupVersion(v.Bucket, v.Key, v.VersionId)
	if err != nil {
		return nil, err
	}
	if absent == nil {
		if r := lockDenied(old, v.MtimeUnixNano, c.BypassGovernance); r != nil {
			return r, nil
		}
		idx := keys.VersionIndexKey(v.Bucket, v.Key, v.VersionId)
		if err := t.removeStored(old, idx, oldKey, v.DataId, v.MtimeUnixNano); err != nil {
			return nil, err
		}
	}
	if err := t.insertVersion(v); err != nil {
		return nil, err
	}
	if err := t.recordPut(v); err != nil {
		return nil, err
	}
	if err := t.setCurrent(v); err != nil {
		return nil, err
	}
	// The proposer has the body; sending it back would only double the
	// answer's size.
	v.InlineData = nil
	return &metapb.CommandResult{Version: v}, nil
}

// storeVersion assigns v the next seq and writes it, replacing any version
// of the same ID (whose body goes to GC unless it is keepDataID).
func (t *txn) storeVersion(v *metapb.ObjectVersion, keepDataID string, now int64) error {
	if _, err := t.removeVersion(v.Bucket, v.Key, v.VersionId, keepDataID, now); err != nil {
		return err
	}
	return t.insertVersion(v)
}

// insertVersion assigns v the next seq and writes it and its index row;
// no version of the same ID may exist.
func (t *txn) insertVersion(v *metapb.ObjectVersion) error {
	seq, err := t.nextSeq()
	if err != nil {
		return err
	}
	v.Seq = seq
	if err := t.set(keys.VersionKey(v.Bucket, v.Key, seq), v); err != nil {
		return err
	}
	return t.b.Set(keys.VersionIndexKey(v.Bucket, v.Key, v.VersionId), uint64Value(seq), nil)
}

// removeVersion deletes one version and its index row and enqueues its body
// for GC unless the body is keepDataID. It returns the removed version, or
// nil if there was none. The current row is the caller's to fix.
func (t *txn) removeVersion(bucket, key, versionID, keepDataID string, now int64) (*metapb.ObjectVersion, error) {
	idx := keys.VersionIndexKey(bucket, key, versionID)
	seq, found, err := getUint64(t.b, idx)
	if err != nil || !found {
		return nil, err
	}
	vk := keys.VersionKey(bucket, key, seq)
	var old metapb.ObjectVersion
	found, err = getProto(t.b, vk, &old)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%w: index %q points at missing version %d", ErrCorrupt, idx, seq)
	}
	if err := t.removeStored(&old, idx, vk, keepDataID, now); err != nil {
		return nil, err
	}
	return &old, nil
}

// removeStored is removeVersion for a version already read: old, stored
// under vk with its index row idx.
func (t *txn) removeStored(old *metapb.ObjectVersion, idx, vk []byte, keepDataID string, now int64) error {
	if err := t.b.Delete(vk, nil); err != nil {
		return err
	}
	if err := t.b.Delete(idx, nil); err != nil {
		return err
	}
	if old.DataId != "" && old.DataId != keepDataID {
		if err := t.enqueueGC(old, now); err != nil {
			return err
		}
	}
	// A multipart version's bodies are its parts.
	if len(old.Parts) > 0 {
		if err := t.removedMultipart(old); err != nil {
			return err
		}
	}
	for _, p := range old.Parts {
		if p.DataId != keepDataID {
			if err := t.enqueueBody(p.DataId, p.Shards, now); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *txn) enqueueGC(v *metapb.ObjectVersion, now int64) error {
	seq, err := t.nextSeq()
	if err != nil {
		return err
	}
	return t.set(keys.GCKey(seq), &metapb.GCEntry{
		Seq:              seq,
		DataId:           v.DataId,
		Shards:           v.Shards,
		EnqueuedUnixNano: now,
	})
}

// refreshCurrent points the current row of bucket/key at its newest version,
// or removes it when there is none or the newest is a delete marker.
func (t *txn) refreshCurrent(bucket, key string) error {
	prefix := keys.VersionPrefix(bucket, key)
	it, err := t.b.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: keys.PrefixEnd(prefix)})
	if err != nil {
		return err
	}
	var newest *metapb.ObjectVersion
	if it.First() {
		newest = &metapb.ObjectVersion{}
		if err := decodeValue(it.Key(), it.Value(), newest); err != nil {
			return errors.Join(err, it.Close())
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return err
	}
	if newest == nil || newest.DeleteMarker {
		return t.b.Delete(keys.ObjectKey(bucket, key), nil)
	}
	return t.setCurrent(newest)
}

// deleteObject follows S3: deleting a missing key or version succeeds.
// Result.Version is the delete marker created, or, when a specific version
// was deleted, that version (so the gateway can report whether it was a
// marker); it is nil when nothing was there.
func (t *txn) deleteObject(c *metapb.DeleteObject) (*metapb.CommandResult, error) {
	if c.GetBucket() == "" || c.GetKey() == "" {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "delete object: empty bucket or key"), nil
	}
	bk, err := t.bucket(c.Bucket)
	if err != nil {
		return nil, err
	}
	if bk == nil {
		return result(metapb.ErrorCode_NO_SUCH_BUCKET, "bucket %q", c.Bucket), nil
	}
	if res, err := t.deletePrecondition(c); err != nil || res != nil {
		return res, err
	}
	var res *metapb.CommandResult
	switch {
	case c.VersionId != "":
		if r, err := t.versionLocked(c.Bucket, c.Key, c.VersionId, c.MtimeUnixNano, c.BypassGovernance); err != nil || r != nil {
			return r, err
		}
		removed, err := t.removeVersion(c.Bucket, c.Key, c.VersionId, "", c.MtimeUnixNano)
		if err != nil {
			return nil, err
		}
		res = &metapb.CommandResult{Version: removed}
	case bk.Versioning == metapb.VersioningState_VERSIONING_UNVERSIONED:
		if _, err := t.removeVersion(c.Bucket, c.Key, nullVersion, "", c.MtimeUnixNano); err != nil {
			return nil, err
		}
		res = okResult()
	default:
		markerID := c.MarkerVersionId
		if bk.Versioning == metapb.VersioningState_VERSIONING_SUSPENDED {
			markerID = nullVersion
		} else if markerID == "" || markerID == nullVersion {
			return result(metapb.ErrorCode_INVALID_ARGUMENT, "delete object: versioned bucket %q needs a marker version ID", c.Bucket), nil
		}
		marker := &metapb.ObjectVersion{
			Bucket:        c.Bucket,
			Key:           c.Key,
			VersionId:     markerID,
			DeleteMarker:  true,
			MtimeUnixNano: c.MtimeUnixNano,
		}
		if err := t.storeVersion(marker, "", c.MtimeUnixNano); err != nil {
			return nil, err
		}
		res = &metapb.CommandResult{Version: marker}
	}
	return res, t.refreshCurrent(c.Bucket, c.Key)
}

// nodeHeartbeat upserts a node. The admin state and the committed liveness
// (down, down since) of a known node are kept; the map epoch moves only when
// what placement depends on changes: address, failure domain, or the set of
// drives and their states.
//
// Since liveness became the leader's soft state, the leader proposes this
// only when a node is new or its address, failure domain or drives change,
// with free space left out; logs written before then carry one per
// heartbeat, and apply here the same way.
func (t *txn) nodeHeartbeat(c *metapb.NodeHeartbeat) (*metapb.CommandResult, error) {
	n := c.GetNode()
	if n.GetNodeId() == "" {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "heartbeat: empty node ID"), nil
	}
	if removed, err := nodeRemoved(t.b, n.NodeId); err != nil {
		return nil, err
	} else if removed {
		return result(metapb.ErrorCode_PRECONDITION_FAILED, "heartbeat: node %q was removed from the cluster", n.NodeId), nil
	}
	nk := keys.NodeKey(n.NodeId)
	var old metapb.Node
	found, err := getProto(t.b, nk, &old)
	if err != nil {
		return nil, err
	}
	stored := proto.CloneOf(n)
	stored.Up = false
	stored.LastHeartbeatUnixNano = c.UnixNano
	if found {
		stored.State = old.State
		stored.Down, stored.DownSinceUnixNano = old.Down, old.DownSinceUnixNano
	}
	if !found || old.Addr != n.Addr || old.FailureDomain != n.FailureDomain || !sameDrives(old.Drives, n.Drives) {
		if err := t.bumpEpoch(); err != nil {
			return nil, err
		}
	}
	return okResult(), t.set(nk, stored)
}

func sameDrives(a, b []*metapb.Drive) bool {
	ids := func(ds []*metapb.Drive) []string {
		out := make([]string, len(ds))
		for i, d := range ds {
			out[i] = fmt.Sprintf("%s\x00%d", d.GetDriveId(), d.GetState())
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(ids(a), ids(b))
}

// ackGC drops the entries whose shards are all deleted and clears, in the
// others, the placements of shards deleted so far. An ack of an entry that
// is gone (acknowledged twice) changes nothing.
func (t *txn) ackGC(c *metapb.AckGC) (*metapb.CommandResult, error) {
	for _, a := range c.GetShards() {
		if err := t.trimGC(a); err != nil {
			return nil, err
		}
	}
	for _, seq := range c.GetSeqs() {
		if err := t.forgetBody(seq); err != nil {
			return nil, err
		}
		if err := t.b.Delete(keys.GCKey(seq), nil); err != nil {
			return nil, err
		}
	}
	return okResult(), nil
}
