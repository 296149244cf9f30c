package metadata

import (
	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/proto/metapb"
)

// Conditional writes are decided here, inside the Raft apply, against the
// state every earlier command left behind. That is what makes them
// linearizable: of N concurrent If-None-Match PUTs to a new key, exactly one
// finds the key absent, whatever order the gateways sent them in.

// putPrecondition checks PutObject.if_match and if_none_match against the
// current version of the key (a delete marker counts as no version). A
// replay of a command that won never gets here (see commits.go). It
// returns nil when the write may proceed, else the rejection:
//   - if_none_match on an existing key: PRECONDITION_FAILED (412);
//   - if_match on a missing key: NO_SUCH_KEY (404, as AWS answers);
//   - if_match with another ETag: PRECONDITION_FAILED (412).
func (t *txn) putPrecondition(c *metapb.PutObject) (*metapb.CommandResult, error) {
	if c.IfMatch == "" && !c.IfNoneMatch {
		return nil, nil
	}
	v := c.GetVersion()
	cur, err := t.current(v.Bucket, v.Key)
	if err != nil {
		return nil, err
	}
	if c.IfNoneMatch && cur != nil {
		return result(metapb.ErrorCode_PRECONDITION_FAILED, "%q/%q exists", v.Bucket, v.Key), nil
	}
	if c.IfMatch != "" {
		if cur == nil {
			return result(metapb.ErrorCode_NO_SUCH_KEY, "%q/%q", v.Bucket, v.Key), nil
		}
		if cur.Etag != c.IfMatch {
			return result(metapb.ErrorCode_PRECONDITION_FAILED, "%q/%q has another ETag", v.Bucket, v.Key), nil
		}
	}
	return nil, nil
}

// deletePrecondition checks DeleteObject.if_match. It returns nil when the
// delete may proceed, else the final result: PRECONDITION_FAILED for
// another ETag, and, as AWS documents, OK without any change when there is
// no such object (or it is a delete marker).
func (t *txn) deletePrecondition(c *metapb.DeleteObject) (*metapb.CommandResult, error) {
	if c.IfMatch == "" {
		return nil, nil
	}
	var cur *metapb.ObjectVersion
	if c.VersionId != "" {
		v, _, r, err := t.lookupVersion(c.Bucket, c.Key, c.VersionId)
		if err != nil {
			return nil, err
		}
		if r == nil {
			cur = v
		}
	} else {
		var err error
		if cur, err = t.current(c.Bucket, c.Key); err != nil {
			return nil, err
		}
	}
	if cur == nil || cur.DeleteMarker {
		return okResult(), nil
	}
	if cur.Etag != c.IfMatch {
		return result(metapb.ErrorCode_PRECONDITION_FAILED, "%q/%q has another ETag", c.Bucket, c.Key), nil
	}
	return nil, nil
}

// current returns the current (non-marker) version of bucket/key, or nil.
func (t *txn) current(bucket, key string) (*metapb.ObjectVersion, error) {
	var cur metapb.ObjectVersion
	found, err := getProto(t.b, keys.ObjectKey(bucket, key), &cur)
	if err != nil || !found {
		return nil, err
	}
	return &cur, nil
}
