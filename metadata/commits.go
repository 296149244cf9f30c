package metadata

import (
	"fmt"
	"slices"

	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/proto/metapb"
)

// A proposer retries a command whose outcome it could not learn (the leader
// lost its leadership after appending it), so the same command can be
// applied twice, with other commands in between. Writes that commit a body
// are made idempotent by the body's data ID, which the gateway draws afresh
// for every body it stores:
//
//   - PutObject and PutPart record each committed body (keys.BodyKey) until
//     its GC entry is acknowledged. A replay finds the record and answers
//     with the first outcome, changing nothing: neither the lock and
//     precondition checks (a locked version must not refuse its own
//     replay, which would make the gateway delete the committed body) nor
//     a second commit (which would resurrect a body already queued for GC).
//   - CompleteMultipartUpload records the version it created under the
//     upload ID (keys.CompletedKey), since its upload row is gone after the
//     first apply. The record lists the version's part bodies and lives
//     until the GC entry of one of them is acknowledged (which happens only
//     once the version is removed), or, for a version without part bodies,
//     as long as the version.

// bodyRecord returns the commit record of dataID, or nil.
func (t *txn) bodyRecord(dataID string) (*metapb.ObjectVersion, error) {
	if dataID == "" {
		return nil, nil
	}
	var rec metapb.ObjectVersion
	found, err := getProto(t.b, keys.BodyKey(dataID), &rec)
	if err != nil || !found {
		return nil, err
	}
	return &rec, nil
}

// commitStub is what a commit record keeps of a version: enough to answer a
// replay when the version itself is gone.
// It names the version's part bodies but keeps no key material.
func commitStub(v *metapb.ObjectVersion) *metapb.ObjectVersion {
	stub := &metapb.ObjectVersion{
		Bucket:        v.Bucket,
		Key:           v.Key,
		VersionId:     v.VersionId,
		Seq:           v.Seq,
		DataId:        v.DataId,
		Etag:          v.Etag,
		MtimeUnixNano: v.MtimeUnixNano,
	}
	if e := v.Encryption; e != nil {
		stub.Encryption = &metapb.Encryption{
			Algorithm:        e.Algorithm,
			KeyId:            e.KeyId,
			BucketKeyEnabled: e.BucketKeyEnabled,
			CustomerKeyMd5:   e.CustomerKeyMd5,
		}
	}
	for _, p := range v.Parts {
		stub.Parts = append(stub.Parts, &metapb.PartInfo{Number: p.Number, DataId: p.DataId})
	}
	return stub
}

// isPartRecord tells the body record of an upload's part from that of an
// object version.
func isPartRecord(rec *metapb.ObjectVersion) bool { return rec.VersionId == "" }

// replayedPut answers a PutObject whose body rec says is committed: the
// version it created, or the record when that version is gone.
func (t *txn) replayedPut(v, rec *metapb.ObjectVersion) (*metapb.CommandResult, error) {
	if rec.Bucket != v.Bucket || rec.Key != v.Key || isPartRecord(rec) {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "put object: data ID %q is committed to %q/%q", v.DataId, rec.Bucket, rec.Key), nil
	}
	return t.replayed(rec)
}

// replayed returns the version rec describes if it is still stored, else
// rec itself.
func (t *txn) replayed(rec *metapb.ObjectVersion) (*metapb.CommandResult, error) {
	var v metapb.ObjectVersion
	found, err := getProto(t.b, keys.VersionKey(rec.Bucket, rec.Key, rec.Seq), &v)
	if err != nil {
		return nil, err
	}
	if found && v.VersionId == rec.VersionId {
		return &metapb.CommandResult{Version: &v}, nil
	}
	return &metapb.CommandResult{Version: rec}, nil
}

// recordPut records the body of a version just stored.
func (t *txn) recordPut(v *metapb.ObjectVersion) error {
	if v.DataId == "" {
		return nil
	}
	return t.set(keys.BodyKey(v.DataId), commitStub(v))
}

// replayedPart reports whether a PutPart is a replay: its body is committed
// already, as a part of the same key. A body committed elsewhere is an
// INVALID_ARGUMENT result.
func (t *txn) replayedPart(c *metapb.PutPart) (bool, *metapb.CommandResult, error) {
	p := c.GetPart()
	rec, err := t.bodyRecord(p.GetDataId())
	if err != nil || rec == nil {
		return false, nil, err
	}
	if rec.Bucket != c.Bucket || rec.Key != c.Key || !isPartRecord(rec) {
		return false, result(metapb.ErrorCode_INVALID_ARGUMENT, "put part: data ID %q is committed to %q/%q", p.DataId, rec.Bucket, rec.Key), nil
	}
	return true, nil, nil
}

// recordPart records the body of a part just stored.
func (t *txn) recordPart(c *metapb.PutPart) error {
	p := c.GetPart()
	if p.GetDataId() == "" {
		return nil
	}
	return t.set(keys.BodyKey(p.DataId), &metapb.ObjectVersion{
		Bucket:        c.Bucket,
		Key:           c.Key,
		DataId:        p.DataId,
		Parts:         []*metapb.PartInfo{{Number: p.Number}},
		MtimeUnixNano: p.MtimeUnixNano,
	})
}

// isReplayedComplete reports whether c is the command that created rec,
// not another Complete of the same upload: same mtime, ETag and parts.
func isReplayedComplete(rec *metapb.ObjectVersion, c *metapb.CompleteMultipartUpload) bool {
	if rec.MtimeUnixNano != c.Version.MtimeUnixNano || rec.Etag != c.Version.Etag || len(rec.Parts) != len(c.Parts) {
		return false
	}
	for i, p := range rec.Parts {
		if p.Number != c.Parts[i].Number {
			return false
		}
	}
	return true
}

// completedUpload returns the record of a completed upload, or nil.
func (t *txn) completedUpload(bucket, key, uploadID string) (*metapb.ObjectVersion, error) {
	var rec metapb.ObjectVersion
	found, err := getProto(t.b, keys.CompletedKey(bucket, key, uploadID), &rec)
	if err != nil || !found {
		return nil, err
	}
	return &rec, nil
}

// recordComplete records the version a Complete of uploadID created.
func (t *txn) recordComplete(uploadID string, v *metapb.ObjectVersion) error {
	return t.set(keys.CompletedKey(v.Bucket, v.Key, uploadID), commitStub(v))
}

// forgetComplete drops the records of completed uploads of bucket/key
// that match.
func (t *txn) forgetComplete(bucket, key string, match func(rec *metapb.ObjectVersion) bool) error {
	var drop [][]byte
	err := scan(t.b, keys.CompletedKeyPrefix(bucket, key), 0, func(k, v []byte) error {
		var rec metapb.ObjectVersion
		if err := decodeValue(k, v, &rec); err != nil {
			return err
		}
		if match(&rec) {
			drop = append(drop, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("completed uploads of %q/%q: %w", bucket, key, err)
	}
	for _, k := range drop {
		if err := t.b.Delete(k, nil); err != nil {
			return err
		}
	}
	return nil
}

// removedMultipart is called for a multipart version being removed. One
// whose parts have no bodies leaves no GC entry to acknowledge: its
// Complete record goes now.
func (t *txn) removedMultipart(old *metapb.ObjectVersion) error {
	for _, p := range old.Parts {
		if p.DataId != "" {
			return nil
		}
	}
	return t.forgetComplete(old.Bucket, old.Key, func(rec *metapb.ObjectVersion) bool { return rec.Seq == old.Seq })
}

// forgetBody drops the commit record of the body of an acknowledged GC
// entry, and, for a part body, the record of the Complete that used it.
func (t *txn) forgetBody(seq uint64) error {
	var e metapb.GCEntry
	found, err := getProto(t.b, keys.GCKey(seq), &e)
	if err != nil || !found || e.DataId == "" || e.ShardsOnly {
		return err
	}
	rec, err := t.bodyRecord(e.DataId)
	if err != nil || rec == nil {
		return err
	}
	if err := t.b.Delete(keys.BodyKey(e.DataId), nil); err != nil {
		return err
	}
	if !isPartRecord(rec) {
		return nil
	}
	return t.forgetComplete(rec.Bucket, rec.Key, func(done *metapb.ObjectVersion) bool {
		return slices.ContainsFunc(done.Parts, func(p *metapb.PartInfo) bool { return p.DataId != "" && p.DataId == e.DataId })
	})
}
