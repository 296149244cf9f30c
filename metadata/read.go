package metadata

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/cockroachdb/pebble"

	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/proto/metapb"
)

const (
	// maxListKeys caps ListObjects pages, as S3 does.
	maxListKeys = 1000
	// defaultGCLimit is the PendingGC page when the caller gives none.
	defaultGCLimit = 1000
)

// GetBucket returns the named bucket or ErrNoSuchBucket.
func (f *FSM) GetBucket(name string) (*metapb.Bucket, error) {
	db, err := f.acquire()
	if err != nil {
		return nil, err
	}
	defer f.mu.RUnlock()
	return getBucket(db, name)
}

func getBucket(r reader, name string) (*metapb.Bucket, error) {
	var bk metapb.Bucket
	found, err := getProto(r, keys.BucketKey(name), &bk)
	if err != nil {
		return nil, fmt.Errorf("metadata: get bucket %q: %w", name, err)
	}
	if !found {
		return nil, fmt.Errorf("%w: %q", ErrNoSuchBucket, name)
	}
	return &bk, nil
}

// ListBuckets returns every bucket in name order.
func (f *FSM) ListBuckets() ([]*metapb.Bucket, error) {
	db, err := f.acquire()
	if err != nil {
		return nil, err
	}
	defer f.mu.RUnlock()
	var out []*metapb.Bucket
	err = scan(db, keys.TablePrefix(keys.TableBucket), 0, func(k, v []byte) error {
		bk := &metapb.Bucket{}
		out = append(out, bk)
		return decodeValue(k, v, bk)
	})
	if err != nil {
		return nil, fmt.Errorf("metadata: list buckets: %w", err)
	}
	return out, nil
}

// GetObject returns a version of bucket/key: the current one when versionID
// is empty (ErrNoSuchKey if there is none or it is a delete marker), else
// the version with that ID (ErrNoSuchVersion), which may be a delete marker.
func (f *FSM) GetObject(bucket, key, versionID string) (*metapb.ObjectVersion, error) {
	db, err := f.acquire()
	if err != nil {
		return nil, err
	}
	defer f.mu.RUnlock()
	snap := db.NewSnapshot()
	defer snap.Close()
	if _, err := getBucket(snap, bucket); err != nil {
		return nil, err
	}
	v := &metapb.ObjectVersion{}
	if versionID == "" {
		found, err := getProto(snap, keys.ObjectKey(bucket, key), v)
		if err != nil {
			return nil, fmt.Errorf("metadata: get object %q/%q: %w", bucket, key, err)
		}
		if !found {
			return nil, fmt.Errorf("%w: %q/%q", ErrNoSuchKey, bucket, key)
		}
		if err := inlineBody(snap, v); err != nil {
			return nil, fmt.Errorf("metadata: get object %q/%q: %w", bucket, key, err)
		}
		return v, nil
	}
	seq, found, err := getUint64(snap, keys.VersionIndexKey(bucket, key, versionID))
	if err == nil && found {
		found, err = getProto(snap, keys.VersionKey(bucket, key, seq), v)
	}
	if err != nil {
		return nil, fmt.Errorf("metadata: get object %q/%q version %q: %w", bucket, key, versionID, err)
	}
	if !found {
		return nil, fmt.Errorf("%w: %q/%q version %q", ErrNoSuchVersion, bucket, key, versionID)
	}
	return v, nil
}

// ListObjects lists the current versions of a bucket in key order, S3
// style. Its cost is proportional to the page: keys under a common prefix
// are skipped with one seek, never visited. A missing bucket is
// ErrNoSuchBucket.
func (f *FSM) ListObjects(req *metapb.ListObjectsRequest) (*metapb.ListObjectsResponse, error) {
	var resp *metapb.ListObjectsResponse
	err := f.readBucket(req.GetBucket(), func(snap reader) (err error) {
		if resp, _, err = listObjects(snap, req); err != nil {
			return fmt.Errorf("metadata: list objects in %q: %w", req.GetBucket(), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// listObjects also returns how many rows it positioned the iterator on, the
// measure of its cost.
func listObjects(r reader, req *metapb.ListObjectsRequest) (resp *metapb.ListObjectsResponse, visited int, err error) {
	bucket, prefix, delim, after := req.GetBucket(), req.GetPrefix(), req.GetDelimiter(), req.GetStartAfter()
	limit := int(req.GetMaxKeys())
	if limit == 0 || limit > maxListKeys {
		limit = maxListKeys
	}
	lower := keys.ObjectPrefix(bucket, prefix)
	start := lower
	if after != "" {
		var from []byte
		if cp, ok := commonPrefix(after, prefix, delim); ok && cp == after {
			from = keys.PrefixEnd(keys.ObjectPrefix(bucket, after))
		} else {
			from = keys.Successor(keys.ObjectKey(bucket, after))
		}
		if string(from) > string(start) {
			start = from
		}
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: keys.PrefixEnd(lower)})
	if err != nil {
		return nil, 0, err
	}
	resp = &metapb.ListObjectsResponse{}
	n := 0
	for ok := it.SeekGE(start); ok; {
		visited++
		_, key, err := keys.DecodeObjectKey(it.Key())
		if err != nil {
			return nil, visited, errors.Join(fmt.Errorf("%w: %w", ErrCorrupt, err), it.Close())
		}
		if n == limit {
			resp.Truncated = true
			break
		}
		n++
		if cp, isCP := commonPrefix(key, prefix, delim); isCP {
			resp.CommonPrefixes = append(resp.CommonPrefixes, cp)
			resp.NextStartAfter = cp
			ok = it.SeekGE(keys.PrefixEnd(keys.ObjectPrefix(bucket, cp)))
			continue
		}
		v := &metapb.ObjectVersion{}
		if err := decodeValue(it.Key(), it.Value(), v); err != nil {
			return nil, visited, errors.Join(err, it.Close())
		}
		v.InlineData = nil // listings never carry bodies
		resp.Objects = append(resp.Objects, v)
		resp.NextStartAfter = key
		ok = it.Next()
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, visited, err
	}
	if !resp.Truncated {
		resp.NextStartAfter = ""
	}
	return resp, visited, nil
}

// commonPrefix reports the common prefix key rolls up into: prefix plus the
// rest of key up to and including the first delimiter after prefix.
func commonPrefix(key, prefix, delim string) (string, bool) {
	if delim == "" || !strings.HasPrefix(key, prefix) {
		return "", false
	}
	i := strings.Index(key[len(prefix):], delim)
	if i < 0 {
		return "", false
	}
	return key[:len(prefix)+i+len(delim)], true
}

// ClusterMap returns the stored nodes in ID order and the map epoch. Up is
// not computed here: it depends on the reader's clock.
func (f *FSM) ClusterMap() (*metapb.ClusterMap, error) {
	db, err := f.acquire()
	if err != nil {
		return nil, err
	}
	defer f.mu.RUnlock()
	snap := db.NewSnapshot()
	defer snap.Close()
	epoch, _, err := getUint64(snap, keys.SystemKey(keys.SysEpoch))
	if err != nil {
		return nil, fmt.Errorf("metadata: read map epoch: %w", err)
	}
	m := &metapb.ClusterMap{Epoch: epoch}
	err = scan(snap, keys.TablePrefix(keys.TableNode), 0, func(k, v []byte) error {
		n := &metapb.Node{}
		m.Nodes = append(m.Nodes, n)
		return decodeValue(k, v, n)
	})
	if err != nil {
		return nil, fmt.Errorf("metadata: read cluster map: %w", err)
	}
	return m, nil
}

// NodeRecord returns what a heartbeat is checked against: the committed
// record of one storage node (nil if it has none), whether the node was
// removed from the cluster, and the map epoch, all from one snapshot. It
// reads three keys where ClusterMap scans every node, for a check made on
// every heartbeat of every node.
func (f *FSM) NodeRecord(id string) (rec *metapb.Node, removed bool, epoch uint64, err error) {
	db, err := f.acquire()
	if err != nil {
		return nil, false, 0, err
	}
	defer f.mu.RUnlock()
	snap := db.NewSnapshot()
	defer snap.Close()
	if removed, err = nodeRemoved(snap, id); err != nil {
		return nil, false, 0, fmt.Errorf("metadata: read removed node %q: %w", id, err)
	}
	if epoch, _, err = getUint64(snap, keys.SystemKey(keys.SysEpoch)); err != nil {
		return nil, false, 0, fmt.Errorf("metadata: read map epoch: %w", err)
	}
	n := &metapb.Node{}
	found, err := getProto(snap, keys.NodeKey(id), n)
	if err != nil {
		return nil, false, 0, fmt.Errorf("metadata: read node %q: %w", id, err)
	}
	if found {
		rec = n
	}
	return rec, removed, epoch, nil
}

// PendingGC returns up to limit GC entries, oldest first; limit <= 0 means
// 1000.
func (f *FSM) PendingGC(limit int) ([]*metapb.GCEntry, error) {
	return f.PendingGCAfter(0, limit)
}

// PendingGCAfter returns up to limit GC entries with a seq above after,
// oldest first; limit <= 0 means 1000. It lets the collector page through
// the whole queue, so that entries it cannot finish yet (a node out of
// reach) never hide the ones behind them.
func (f *FSM) PendingGCAfter(after uint64, limit int) ([]*metapb.GCEntry, error) {
	if after == math.MaxUint64 {
		return nil, nil // nothing can follow
	}
	if limit <= 0 {
		limit = defaultGCLimit
	}
	db, err := f.acquire()
	if err != nil {
		return nil, err
	}
	defer f.mu.RUnlock()
	var out []*metapb.GCEntry
	prefix := keys.TablePrefix(keys.TableGC)
	err = scanFrom(db, prefix, keys.GCKey(after+1), limit, func(k, v []byte) error {
		e := &metapb.GCEntry{}
		out = append(out, e)
		return decodeValue(k, v, e)
	})
	if err != nil {
		return nil, fmt.Errorf("metadata: read gc queue: %w", err)
	}
	return out, nil
}

// scan calls fn for up to limit (0: all) entries under prefix.
func scan(r reader, prefix []byte, limit int, fn func(k, v []byte) error) error {
	return scanFrom(r, prefix, prefix, limit, fn)
}

// scanFrom is scan starting at the first key at or above from.
func scanFrom(r reader, prefix, from []byte, limit int, fn func(k, v []byte) error) error {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: from, UpperBound: keys.PrefixEnd(prefix)})
	if err != nil {
		return err
	}
	n := 0
	for ok := it.First(); ok && (limit == 0 || n < limit); ok = it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			return errors.Join(err, it.Close())
		}
		n++
	}
	return errors.Join(it.Error(), it.Close())
}
