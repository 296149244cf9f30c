package metadata

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/cockroachdb/pebble"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/proto/metapb"
)

// Multipart uploads live in two tables: the upload row (keys.UploadKey)
// holds what CreateMultipartUpload was given, and one row per part
// (keys.PartKey) holds where the part's body is. Neither is visible as an
// object: CompleteMultipartUpload turns the chosen parts into one version,
// atomically, and drops both; every body not taken goes to the GC queue.

const (
	// MaxPartNumber is the highest part number S3 accepts.
	MaxPartNumber = 10000
	// maxListUploads caps ListMultipartUploads pages, as S3 does.
	maxListUploads = 1000
	// maxListParts caps ListParts pages, as S3 does.
	maxListParts = 1000
)

// ErrNoSuchUpload is returned by the multipart reads for an unknown (or
// completed or aborted) upload.
var ErrNoSuchUpload = errors.New("metadata: no such upload")

// createMultipartUpload records a new upload. Creating an upload that
// exists already is a retry and succeeds without change.
func (t *txn) createMultipartUpload(c *metapb.CreateMultipartUpload) (*metapb.CommandResult, error) {
	u := c.GetUpload()
	if u.GetBucket() == "" || u.GetKey() == "" || u.GetUploadId() == "" {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "create multipart upload: empty bucket, key or upload ID"), nil
	}
	bk, err := t.bucket(u.Bucket)
	if err != nil {
		return nil, err
	}
	if bk == nil {
		return result(metapb.ErrorCode_NO_SUCH_BUCKET, "bucket %q", u.Bucket), nil
	}
	uk := keys.UploadKey(u.Bucket, u.Key, u.UploadId)
	found, err := getProto(t.b, uk, &metapb.MultipartUpload{})
	if err != nil || found {
		return okResult(), err
	}
	return okResult(), t.set(uk, u)
}

// upload loads an upload, or returns a NO_SUCH_UPLOAD result.
func (t *txn) upload(bucket, key, uploadID string) (*metapb.MultipartUpload, *metapb.CommandResult, error) {
	bk, err := t.bucket(bucket)
	if err != nil {
		return nil, nil, err
	}
	if bk == nil {
		return nil, result(metapb.ErrorCode_NO_SUCH_BUCKET, "bucket %q", bucket), nil
	}
	var u metapb.MultipartUpload
	found, err := getProto(t.b, keys.UploadKey(bucket, key, uploadID), &u)
	if err != nil {
		return nil, nil, err
	}
	if !found {
		return nil, result(metapb.ErrorCode_NO_SUCH_UPLOAD, "upload %q of %q/%q", uploadID, bucket, key), nil
	}
	return &u, nil, nil
}

// putPart records a part whose body is durable. A part number uploaded
// before is replaced, and the old body goes to GC (unless it is the same
// body: a retried command).
func (t *txn) putPart(c *metapb.PutPart) (*metapb.CommandResult, error) {
	p := c.GetPart()
	if p == nil || p.Number < 1 || p.Number > MaxPartNumber {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "put part: part number must be 1..%d", MaxPartNumber), nil
	}
	// A replay changes nothing, even after the part was replaced or the
	// upload completed (see commits.go).
	if replay, res, err := t.replayedPart(c); err != nil || res != nil || replay {
		if replay {
			return okResult(), nil
		}
		return res, err
	}
	_, res, err := t.upload(c.GetBucket(), c.GetKey(), c.GetUploadId())
	if err != nil || res != nil {
		return res, err
	}
	pk := keys.PartKey(c.Bucket, c.Key, c.UploadId, p.Number)
	var old metapb.PartInfo
	found, err := getProto(t.b, pk, &old)
	if err != nil {
		return nil, err
	}
	if found && old.DataId != p.DataId {
		if err := t.enqueueBody(old.DataId, old.Shards, p.MtimeUnixNano); err != nil {
			return nil, err
		}
	}
	if err := t.recordPart(c); err != nil {
		return nil, err
	}
	return okResult(), t.set(pk, p)
}

// completeMultipartUpload turns the listed parts into the new current
// version of the key. The checks follow S3: parts listed in ascending
// order (INVALID_PART_ORDER), each uploaded with the ETag (and checksums)
// listed (INVALID_PART), every part but the last at least min_part_size
// bytes (ENTITY_TOO_SMALL). Object Lock applies as for PutObject. Parts
// not listed go to GC with the upload.
func (t *txn) completeMultipartUpload(c *metapb.CompleteMultipartUpload) (*metapb.CommandResult, error) {
	if len(c.GetParts()) == 0 || c.GetVersion() == nil {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "complete multipart upload: no parts or no version"), nil
	}
	// A replay answers with the version the first apply created; the
	// upload is gone by then (see commits.go). Another Complete of the
	// same upload (a new request) still finds no upload.
	rec, err := t.completedUpload(c.GetBucket(), c.GetKey(), c.GetUploadId())
	if err != nil {
		return nil, err
	}
	if rec != nil && isReplayedComplete(rec, c) {
		return t.replayed(rec)
	}
	bk, err := t.bucket(c.GetBucket())
	if err != nil {
		return nil, err
	}
	_, res, err := t.upload(c.GetBucket(), c.GetKey(), c.GetUploadId())
	if err != nil || res != nil {
		return res, err
	}
	stored, err := t.parts(c.Bucket, c.Key, c.UploadId)
	if err != nil {
		return nil, err
	}
	v := proto.CloneOf(c.Version)
	v.Bucket, v.Key = c.Bucket, c.Key
	v.DataId, v.Shards, v.Parts, v.Size, v.DeleteMarker = "", nil, nil, 0, false
	for i := 1; i < len(c.Parts); i++ {
		if c.Parts[i].Number <= c.Parts[i-1].Number {
			return result(metapb.ErrorCode_INVALID_PART_ORDER, "part %d listed after part %d", c.Parts[i].Number, c.Parts[i-1].Number), nil
		}
	}
	used := map[uint32]bool{}
	for i, cp := range c.Parts {
		p, ok := stored[cp.Number]
		if !ok || p.Etag != cp.Etag {
			return result(metapb.ErrorCode_INVALID_PART, "part %d was not uploaded with ETag %q", cp.Number, cp.Etag), nil
		}
		for alg, want := range cp.Checksums {
			if got, ok := p.Checksums[alg]; !ok || got != want {
				return result(metapb.ErrorCode_INVALID_PART, "part %d: %s checksum %q does not match", cp.Number, alg, want), nil
			}
		}
		if i < len(c.Parts)-1 && p.Size < int64(c.MinPartSize) {
			return &metapb.CommandResult{Code: metapb.ErrorCode_ENTITY_TOO_SMALL, Message: fmt.Sprintf("%d", cp.Number)}, nil
		}
		used[cp.Number] = true
		v.Parts = append(v.Parts, p)
		v.Size += p.Size
	}
	if r, err := t.completePreconditions(c); err != nil || r != nil {
		return r, err
	}
	if bk.Versioning != metapb.VersioningState_VERSIONING_ENABLED {
		v.VersionId = nullVersion
	} else if v.VersionId == "" || v.VersionId == nullVersion {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "complete multipart upload: versioned bucket %q needs a version ID", c.Bucket), nil
	}
	// Object Lock as for PutObject: the bucket's default retention, and
	// no lock fields on a bucket without Object Lock.
	if r := applyObjectLock(bk, v); r != nil {
		return r, nil
	}
	// Replacing a version of the same ID removes it: a locked one stays.
	if r, err := t.versionLocked(v.Bucket, v.Key, v.VersionId, v.MtimeUnixNano, false); err != nil || r != nil {
		return r, err
	}
	// In part order: each body takes the next seq, and every replica must
	// give each body the same one (AckGC deletes by seq).
	for _, n := range sortedPartNumbers(stored) {
		if p := stored[n]; !used[n] {
			if err := t.enqueueBody(p.DataId, p.Shards, v.MtimeUnixNano); err != nil {
				return nil, err
			}
		}
	}
	if err := t.dropUpload(c.Bucket, c.Key, c.UploadId); err != nil {
		return nil, err
	}
	if err := t.storeVersion(v, "", v.MtimeUnixNano); err != nil {
		return nil, err
	}
	if err := t.recordComplete(c.UploadId, v); err != nil {
		return nil, err
	}
	if err := t.setCurrent(v); err != nil {
		return nil, err
	}
	return &metapb.CommandResult{Version: v}, nil
}

// completePreconditions decides the conditional Complete (If-Match,
// If-None-Match) against the current version, inside the commit.
func (t *txn) completePreconditions(c *metapb.CompleteMultipartUpload) (*metapb.CommandResult, error) {
	if c.IfMatch == "" && !c.IfNoneMatch {
		return nil, nil
	}
	var cur metapb.ObjectVersion
	found, err := getProto(t.b, keys.ObjectKey(c.Bucket, c.Key), &cur)
	if err != nil {
		return nil, err
	}
	if c.IfNoneMatch && found {
		return result(metapb.ErrorCode_PRECONDITION_FAILED, "%q/%q exists", c.Bucket, c.Key), nil
	}
	if c.IfMatch != "" && (!found || cur.Etag != c.IfMatch) {
		if !found {
			return result(metapb.ErrorCode_NO_SUCH_KEY, "%q/%q", c.Bucket, c.Key), nil
		}
		return result(metapb.ErrorCode_PRECONDITION_FAILED, "%q/%q has another ETag", c.Bucket, c.Key), nil
	}
	return nil, nil
}

// abortMultipartUpload drops an upload and queues every part body for GC.
func (t *txn) abortMultipartUpload(c *metapb.AbortMultipartUpload) (*metapb.CommandResult, error) {
	_, res, err := t.upload(c.GetBucket(), c.GetKey(), c.GetUploadId())
	if err != nil || res != nil {
		return res, err
	}
	// The command carries no clock; GC entries of aborted parts are
	// stamped 0, which only makes them eligible at once.
	if err := t.abortUpload(c.Bucket, c.Key, c.UploadId, 0); err != nil {
		return nil, err
	}
	return okResult(), nil
}

func (t *txn) abortUpload(bucket, key, uploadID string, now int64) error {
	stored, err := t.parts(bucket, key, uploadID)
	if err != nil {
		return err
	}
	for _, n := range sortedPartNumbers(stored) {
		p := stored[n]
		if err := t.enqueueBody(p.DataId, p.Shards, now); err != nil {
			return err
		}
	}
	return t.dropUpload(bucket, key, uploadID)
}

// abortBucketUploads aborts every upload of a bucket being deleted, so
// that a bucket created later under the same name starts clean.
func (t *txn) abortBucketUploads(bucket string, now int64) error {
	prefix := keys.UploadPrefix(bucket, "")
	var ids [][3]string
	err := scan(t.b, prefix, 0, func(k, _ []byte) error {
		b, key, id, err := keys.DecodeUploadKey(k)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		ids = append(ids, [3]string{b, key, id})
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := t.abortUpload(id[0], id[1], id[2], now); err != nil {
			return err
		}
	}
	return nil
}

// dropUpload deletes an upload row and all its part rows.
func (t *txn) dropUpload(bucket, key, uploadID string) error {
	prefix := keys.PartPrefix(bucket, key, uploadID)
	if err := t.b.DeleteRange(prefix, keys.PrefixEnd(prefix), nil); err != nil {
		return err
	}
	return t.b.Delete(keys.UploadKey(bucket, key, uploadID), nil)
}

// parts returns the stored parts of an upload by number.
func (t *txn) parts(bucket, key, uploadID string) (map[uint32]*metapb.PartInfo, error) {
	out := map[uint32]*metapb.PartInfo{}
	err := scan(t.b, keys.PartPrefix(bucket, key, uploadID), 0, func(k, v []byte) error {
		p := &metapb.PartInfo{}
		if err := decodeValue(k, v, p); err != nil {
			return err
		}
		out[p.Number] = p
		return nil
	})
	return out, err
}

func sortedPartNumbers(m map[uint32]*metapb.PartInfo) []uint32 {
	return slices.Sorted(maps.Keys(m))
}

// enqueueBody puts one stored body on the GC queue; an empty data ID (an
// empty body) has nothing to collect.
func (t *txn) enqueueBody(dataID string, shards []*metapb.ShardPlacement, now int64) error {
	if dataID == "" {
		return nil
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
	})
}

// GetMultipartUpload returns an upload and a page of its parts: those
// numbered above req.PartNumberMarker, at most req.MaxParts (0 or more
// than 1000: 1000). A missing bucket is ErrNoSuchBucket, a missing upload
// ErrNoSuchUpload.
func (f *FSM) GetMultipartUpload(req *metapb.GetMultipartUploadRequest) (*metapb.GetMultipartUploadResponse, error) {
	var resp *metapb.GetMultipartUploadResponse
	err := f.readBucket(req.GetBucket(), func(snap reader) (err error) {
		resp, err = getMultipartUpload(snap, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func getMultipartUpload(snap reader, req *metapb.GetMultipartUploadRequest) (*metapb.GetMultipartUploadResponse, error) {
	u := &metapb.MultipartUpload{}
	found, err := getProto(snap, keys.UploadKey(req.GetBucket(), req.GetKey(), req.GetUploadId()), u)
	if err != nil {
		return nil, fmt.Errorf("metadata: get upload %q: %w", req.GetUploadId(), err)
	}
	if !found {
		return nil, fmt.Errorf("%w: %q of %q/%q", ErrNoSuchUpload, req.GetUploadId(), req.GetBucket(), req.GetKey())
	}
	limit := int(req.GetMaxParts())
	if limit == 0 || limit > maxListParts {
		limit = maxListParts
	}
	prefix := keys.PartPrefix(req.GetBucket(), req.GetKey(), req.GetUploadId())
	it, err := snap.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: keys.PrefixEnd(prefix)})
	if err != nil {
		return nil, err
	}
	resp := &metapb.GetMultipartUploadResponse{Upload: u}
	for ok := it.SeekGE(keys.PartKey(req.GetBucket(), req.GetKey(), req.GetUploadId(), req.GetPartNumberMarker()+1)); ok; ok = it.Next() {
		if len(resp.Parts) == limit {
			resp.Truncated = true
			break
		}
		p := &metapb.PartInfo{}
		if err := decodeValue(it.Key(), it.Value(), p); err != nil {
			return nil, errors.Join(err, it.Close())
		}
		resp.Parts = append(resp.Parts, p)
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("metadata: list parts of %q: %w", req.GetUploadId(), err)
	}
	return resp, nil
}

// ListMultipartUploads lists the uploads in progress of a bucket, S3 style:
// by key, then by upload ID (creation order); with key_marker alone, keys
// after it; with upload_id_marker too, the later uploads of key_marker
// first. Keys under a common prefix roll up into it, skipped with one seek.
func (f *FSM) ListMultipartUploads(req *metapb.ListMultipartUploadsRequest) (*metapb.ListMultipartUploadsResponse, error) {
	var resp *metapb.ListMultipartUploadsResponse
	err := f.readBucket(req.GetBucket(), func(snap reader) (err error) {
		if resp, err = listUploads(snap, req); err != nil {
			return fmt.Errorf("metadata: list uploads in %q: %w", req.GetBucket(), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

func listUploads(r reader, req *metapb.ListMultipartUploadsRequest) (*metapb.ListMultipartUploadsResponse, error) {
	bucket, prefix, delim := req.GetBucket(), req.GetPrefix(), req.GetDelimiter()
	limit := int(req.GetMaxUploads())
	if limit == 0 || limit > maxListUploads {
		limit = maxListUploads
	}
	lower := keys.UploadPrefix(bucket, prefix)
	start := lower
	if m := req.GetKeyMarker(); m != "" {
		var from []byte
		switch cp, ok := commonPrefix(m, prefix, delim); {
		case ok && cp == m:
			from = keys.PrefixEnd(keys.UploadPrefix(bucket, m))
		case req.GetUploadIdMarker() != "":
			from = keys.Successor(keys.UploadKey(bucket, m, req.GetUploadIdMarker()))
		default:
			from = keys.PrefixEnd(keys.UploadKeyPrefix(bucket, m))
		}
		if string(from) > string(start) {
			start = from
		}
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: keys.PrefixEnd(lower)})
	if err != nil {
		return nil, err
	}
	resp := &metapb.ListMultipartUploadsResponse{}
	n := 0
	for ok := it.SeekGE(start); ok; {
		_, key, id, err := keys.DecodeUploadKey(it.Key())
		if err != nil {
			return nil, errors.Join(fmt.Errorf("%w: %w", ErrCorrupt, err), it.Close())
		}
		if n == limit {
			resp.Truncated = true
			break
		}
		n++
		if cp, isCP := commonPrefix(key, prefix, delim); isCP {
			resp.CommonPrefixes = append(resp.CommonPrefixes, cp)
			resp.NextKeyMarker, resp.NextUploadIdMarker = cp, ""
			ok = it.SeekGE(keys.PrefixEnd(keys.UploadPrefix(bucket, cp)))
			continue
		}
		u := &metapb.MultipartUpload{}
		if err := decodeValue(it.Key(), it.Value(), u); err != nil {
			return nil, errors.Join(err, it.Close())
		}
		resp.Uploads = append(resp.Uploads, u)
		resp.NextKeyMarker, resp.NextUploadIdMarker = key, id
		ok = it.Next()
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, err
	}
	if !resp.Truncated {
		resp.NextKeyMarker, resp.NextUploadIdMarker = "", ""
	}
	return resp, nil
}

// ExpiredUploads returns, for the lifecycle rules of every bucket
// (AbortIncompleteMultipartUpload), up to limit uploads that were
// initiated more than the rule's days before now: the commands that abort
// them. The meta leader proposes them; the decision to abort is made from
// the stored state and the given clock only.
func (f *FSM) ExpiredUploads(now int64, limit int) ([]*metapb.AbortMultipartUpload, error) {
	if limit <= 0 {
		limit = maxListUploads
	}
	buckets, err := f.ListBuckets()
	if err != nil {
		return nil, err
	}
	db, err := f.acquire()
	if err != nil {
		return nil, err
	}
	defer f.mu.RUnlock()
	snap := db.NewSnapshot()
	defer snap.Close()
	var out []*metapb.AbortMultipartUpload
	seen := map[string]bool{}
	for _, bk := range buckets {
		for _, rule := range bk.LifecycleRules {
			if !rule.Enabled || rule.AbortIncompleteMultipartDays == 0 {
				continue
			}
			cutoff := now - int64(rule.AbortIncompleteMultipartDays)*int64(dayNanos)
			err := scan(snap, keys.UploadPrefix(bk.Name, rule.Prefix), 0, func(k, v []byte) error {
				u := &metapb.MultipartUpload{}
				if err := decodeValue(k, v, u); err != nil {
					return err
				}
				if u.InitiatedUnixNano > cutoff || seen[string(k)] {
					return nil
				}
				seen[string(k)] = true
				out = append(out, &metapb.AbortMultipartUpload{Bucket: u.Bucket, Key: u.Key, UploadId: u.UploadId})
				if len(out) == limit {
					return errStopScan
				}
				return nil
			})
			if errors.Is(err, errStopScan) {
				return out, nil
			}
			if err != nil {
				return nil, fmt.Errorf("metadata: expired uploads of %q: %w", bk.Name, err)
			}
		}
	}
	return out, nil
}

const dayNanos = 24 * 60 * 60 * 1e9

var errStopScan = errors.New("metadata: stop scan")
