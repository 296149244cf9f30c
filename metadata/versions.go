package metadata

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble"

	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/proto/metapb"
)

// ErrBadVersionMarker is returned by ListObjectVersions for a version-id
// marker that names no version of the key marker.
var ErrBadVersionMarker = errors.New("metadata: version id marker names no version")

// ListObjectVersions lists every version and delete marker of a bucket, S3
// style: in key order, the versions of one key newest (last committed)
// first, with is_latest set on the newest. It is a range scan over the
// version table whose cost is proportional to the page: it starts at the
// markers with one seek, and keys rolled up into a common prefix are
// skipped with one seek each. A missing bucket is ErrNoSuchBucket.
func (f *FSM) ListObjectVersions(req *metapb.ListObjectVersionsRequest) (*metapb.ListObjectVersionsResponse, error) {
	var resp *metapb.ListObjectVersionsResponse
	err := f.readBucket(req.GetBucket(), func(snap reader) (err error) {
		if resp, _, err = listVersions(snap, req); err != nil {
			return fmt.Errorf("metadata: list object versions in %q: %w", req.GetBucket(), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// versionsPrefix is the prefix of the version rows of every key of bucket
// that starts with prefix.
func versionsPrefix(bucket, prefix string) []byte {
	return append(keys.BucketVersionsPrefix(bucket), keys.EscapePrefix(prefix)...)
}

// listVersions also returns how many rows it positioned the iterator on,
// the measure of its cost.
func listVersions(r reader, req *metapb.ListObjectVersionsRequest) (resp *metapb.ListObjectVersionsResponse, visited int, err error) {
	bucket, prefix, delim := req.GetBucket(), req.GetPrefix(), req.GetDelimiter()
	keyMarker, vidMarker := req.GetKeyMarker(), req.GetVersionIdMarker()
	limit := int(req.GetMaxKeys())
	if limit == 0 || limit > maxListKeys {
		limit = maxListKeys
	}
	lower := versionsPrefix(bucket, prefix)
	start := lower
	// lastKey is the key of the previous row: a row of the same key is not
	// the latest. Starting after a version of the marker key, the first
	// rows are older versions of that key.
	lastKey, haveLast := "", false
	if keyMarker != "" {
		var from []byte
		switch cp, isCP := commonPrefix(keyMarker, prefix, delim); {
		case isCP && cp == keyMarker:
			from = keys.PrefixEnd(versionsPrefix(bucket, keyMarker))
		case vidMarker != "":
			seq, found, err := getUint64(r, keys.VersionIndexKey(bucket, keyMarker, vidMarker))
			if err != nil {
				return nil, 0, err
			}
			if found {
				from = keys.Successor(keys.VersionKey(bucket, keyMarker, seq))
				lastKey, haveLast = keyMarker, true
				break
			}
			// The marker's version was deleted since the previous page:
			// a marker is a position, so continue where it stood.
			pos, after, n, err := versionPosition(r, bucket, keyMarker, vidMarker)
			visited += n
			if err != nil {
				return nil, visited, err
			}
			from = pos
			lastKey, haveLast = keyMarker, after
		default:
			from = keys.PrefixEnd(keys.VersionPrefix(bucket, keyMarker))
		}
		if string(from) > string(start) {
			start = from
		}
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: keys.PrefixEnd(lower)})
	if err != nil {
		return nil, 0, err
	}
	resp = &metapb.ListObjectVersionsResponse{}
	n := 0
	for ok := it.SeekGE(start); ok; {
		visited++
		_, key, _, err := keys.DecodeVersionKey(it.Key())
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
			resp.NextKeyMarker, resp.NextVersionIdMarker = cp, ""
			lastKey, haveLast = "", false
			ok = it.SeekGE(keys.PrefixEnd(versionsPrefix(bucket, cp)))
			continue
		}
		v := &metapb.ObjectVersion{}
		if err := decodeValue(it.Key(), it.Value(), v); err != nil {
			return nil, visited, errors.Join(err, it.Close())
		}
		v.InlineData = nil // listings never carry bodies
		v.IsLatest = !haveLast || lastKey != key
		lastKey, haveLast = key, true
		resp.Versions = append(resp.Versions, v)
		resp.NextKeyMarker, resp.NextVersionIdMarker = key, v.VersionId
		ok = it.Next()
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, visited, err
	}
	if !resp.Truncated {
		resp.NextKeyMarker, resp.NextVersionIdMarker = "", ""
	}
	return resp, visited, nil
}

// versionPosition finds where the versions of key continue after a
// version that no longer exists: at the first version older than the time
// its ID carries (IDs begin with their big-endian creation time in
// nanoseconds, the time the version's mtime records). after reports
// whether that position follows a version of key (so the first row there
// is not the latest). A "null" marker has no time; the key's versions are
// then listed again from the newest, which repeats entries rather than
// skipping any.
func versionPosition(r reader, bucket, key, vidMarker string) (pos []byte, after bool, visited int, err error) {
	if vidMarker == "null" {
		return keys.VersionPrefix(bucket, key), false, 0, nil
	}
	raw, err := hex.DecodeString(vidMarker)
	if err != nil || len(raw) != 16 {
		return nil, false, 0, fmt.Errorf("%w: %q of %q", ErrBadVersionMarker, vidMarker, key)
	}
	markTime := int64(binary.BigEndian.Uint64(raw[:8]))
	prefix := keys.VersionPrefix(bucket, key)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: keys.PrefixEnd(prefix)})
	if err != nil {
		return nil, false, 0, err
	}
	first := true
	for ok := it.First(); ok; ok = it.Next() {
		visited++
		v := &metapb.ObjectVersion{}
		if err := decodeValue(it.Key(), it.Value(), v); err != nil {
			return nil, false, visited, errors.Join(err, it.Close())
		}
		if v.MtimeUnixNano < markTime || (v.MtimeUnixNano == markTime && v.VersionId < vidMarker) {
			pos = slices.Clone(it.Key())
			return pos, !first, visited, it.Close()
		}
		first = false
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, false, visited, err
	}
	return keys.PrefixEnd(prefix), true, visited, nil
}
