package metadata

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"

	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/proto/metapb"
)

// Body is one erasure-coded body as the repairer sees it: a version's own
// body, a part of a completed multipart version, or a part of an upload in
// progress. Together its naming fields are what a RepairShards needs.
type Body struct {
	Bucket    string
	Key       string
	VersionID string // empty for a part of an upload in progress
	UploadID  string // set only for a part of an upload in progress
	// PartNumber is 0 for a version's own body.
	PartNumber uint32
	DataID     string
	Profile    *metapb.ErasureProfile
	Shards     []*metapb.ShardPlacement
	// Digests is the record's shard_digests (may be empty).
	Digests [][]byte
	// StoredSize is the number of body bytes the shards hold.
	StoredSize  int64
	UnderSpread bool
}

// MaxBodyPage caps one ScanBodies page, counted in records.
const MaxBodyPage = 1000

// ScanBodies returns the bodies of up to limit records (versions and parts
// of uploads in progress) after cursor, in key order, and the cursor to
// pass next; the returned cursor is nil once the scan is complete. A nil
// cursor starts from the beginning. Delete markers and empty bodies (no
// data ID) are skipped. Memory is bounded by the page: limit <= 0 or more
// than MaxBodyPage means MaxBodyPage.
func (f *FSM) ScanBodies(cursor []byte, limit int) ([]Body, []byte, error) {
	if limit <= 0 || limit > MaxBodyPage {
		limit = MaxBodyPage
	}
	db, err := f.acquire()
	if err != nil {
		return nil, nil, err
	}
	defer f.mu.RUnlock()
	// Parts ('P') sort before versions ('V'): one key order over both.
	ranges := [][]byte{keys.TablePrefix(keys.TablePart), keys.TablePrefix(keys.TableVersion)}
	var out []Body
	n := 0
	for _, prefix := range ranges {
		end := keys.PrefixEnd(prefix)
		start := prefix
		if cursor != nil {
			if string(cursor) >= string(end) {
				continue
			}
			if string(cursor) >= string(prefix) {
				start = keys.Successor(cursor)
			}
		}
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: end})
		if err != nil {
			return nil, nil, err
		}
		for ok := it.SeekGE(start); ok; ok = it.Next() {
			if n == limit {
				next := append([]byte(nil), cursor...)
				return out, next, it.Close()
			}
			k := it.Key()
			bodies, err := decodeBodies(k, it.Value())
			if err != nil {
				return nil, nil, errors.Join(fmt.Errorf("metadata: scan bodies: %w", err), it.Close())
			}
			out = append(out, bodies...)
			cursor = append(cursor[:0:0], k...)
			n++
		}
		if err := errors.Join(it.Error(), it.Close()); err != nil {
			return nil, nil, fmt.Errorf("metadata: scan bodies: %w", err)
		}
	}
	return out, nil, nil
}

// decodeBodies returns the bodies of one part or version row.
func decodeBodies(k, v []byte) ([]Body, error) {
	if len(k) > 0 && k[0] == keys.TablePart {
		bucket, key, uploadID, _, err := keys.DecodePartKey(k)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		var p metapb.PartInfo
		if err := decodeValue(k, v, &p); err != nil {
			return nil, err
		}
		if p.DataId == "" {
			return nil, nil
		}
		return []Body{partBody(bucket, key, "", uploadID, &p)}, nil
	}
	var ver metapb.ObjectVersion
	if err := decodeValue(k, v, &ver); err != nil {
		return nil, err
	}
	return versionBodies(&ver), nil
}

func versionBodies(v *metapb.ObjectVersion) []Body {
	if v.DeleteMarker {
		return nil
	}
	var out []Body
	// An inline body lives in the record itself: nothing to repair,
	// scrub or collect on storage nodes.
	if v.DataId != "" && !v.Inline {
		size := v.Size
		if v.StoredSize > 0 {
			size = v.StoredSize
		}
		out = append(out, Body{
			Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionId, DataID: v.DataId,
			Profile: v.Profile, Shards: v.Shards, Digests: v.ShardDigests, StoredSize: size,
			UnderSpread: v.UnderSpread,
		})
	}
	for _, p := range v.Parts {
		if p.DataId != "" {
			out = append(out, partBody(v.Bucket, v.Key, v.VersionId, "", p))
		}
	}
	return out
}

func partBody(bucket, key, versionID, uploadID string, p *metapb.PartInfo) Body {
	size := p.Size
	if p.StoredSize > 0 {
		size = p.StoredSize
	}
	return Body{
		Bucket: bucket, Key: key, VersionID: versionID, UploadID: uploadID, PartNumber: p.Number,
		DataID: p.DataId, Profile: p.Profile, Shards: p.Shards, Digests: p.ShardDigests, StoredSize: size,
	}
}

// LocateBody returns the live body whose data ID is dataID, or false when
// no version or upload holds it (never committed, or deleted). It reads
// the body's commit record, then the record that holds the body: for a
// part, the versions and uploads of its key.
func (f *FSM) LocateBody(dataID string) (Body, bool, error) {
	if dataID == "" {
		return Body{}, false, nil
	}
	db, err := f.acquire()
	if err != nil {
		return Body{}, false, err
	}
	defer f.mu.RUnlock()
	snap := db.NewSnapshot()
	defer snap.Close()
	var rec metapb.ObjectVersion
	found, err := getProto(snap, keys.BodyKey(dataID), &rec)
	if err != nil || !found {
		return Body{}, false, wrapLocate(dataID, err)
	}
	match := func(b Body) bool { return b.DataID == dataID }
	if !isPartRecord(&rec) {
		var v metapb.ObjectVersion
		found, err := getProto(snap, keys.VersionKey(rec.Bucket, rec.Key, rec.Seq), &v)
		if err != nil || !found {
			return Body{}, false, wrapLocate(dataID, err)
		}
		for _, b := range versionBodies(&v) {
			if match(b) {
				return b, true, nil
			}
		}
		return Body{}, false, nil
	}
	var out Body
	hit := false
	visit := func(k, v []byte) error {
		bodies, err := decodeBodies(k, v)
		if err != nil {
			return err
		}
		for _, b := range bodies {
			if match(b) {
				out, hit = b, true
				return errStopScan
			}
		}
		return nil
	}
	for _, prefix := range [][]byte{keys.VersionPrefix(rec.Bucket, rec.Key), keys.KeyPartsPrefix(rec.Bucket, rec.Key)} {
		if err := scan(snap, prefix, 0, visit); err != nil && !errors.Is(err, errStopScan) {
			return Body{}, false, wrapLocate(dataID, err)
		}
		if hit {
			return out, true, nil
		}
	}
	return Body{}, false, nil
}

func wrapLocate(dataID string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("metadata: locate body %s: %w", dataID, err)
}
