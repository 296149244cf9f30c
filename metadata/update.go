package metadata

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/proto/metapb"
)

// updateBucket replaces the named configuration fields of a bucket. The
// field list makes each S3 sub-resource PUT (versioning, policy, ACL, ...)
// one small command that cannot clobber the others.
func (t *txn) updateBucket(c *metapb.UpdateBucket) (*metapb.CommandResult, error) {
	in := c.GetBucket()
	if in.GetName() == "" || len(c.Fields) == 0 {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "update bucket: empty name or no fields"), nil
	}
	bk, err := t.bucket(in.Name)
	if err != nil {
		return nil, err
	}
	if bk == nil {
		return result(metapb.ErrorCode_NO_SUCH_BUCKET, "bucket %q", in.Name), nil
	}
	for _, f := range c.Fields {
		switch f {
		case "versioning":
			if in.Versioning == metapb.VersioningState_VERSIONING_UNVERSIONED {
				return result(metapb.ErrorCode_INVALID_ARGUMENT, "update bucket: versioning cannot be turned off, only suspended"), nil
			}
			if bk.ObjectLockEnabled && in.Versioning != metapb.VersioningState_VERSIONING_ENABLED {
				return result(metapb.ErrorCode_INVALID_ARGUMENT, "update bucket: versioning cannot be suspended on an Object Lock bucket"), nil
			}
			bk.Versioning = in.Versioning
		case "default_retention":
			if !bk.ObjectLockEnabled {
				return result(metapb.ErrorCode_INVALID_ARGUMENT, "update bucket: Object Lock is not enabled on %q", in.Name), nil
			}
			bk.DefaultRetention = in.DefaultRetention
		case "policy":
			bk.Policy = in.Policy
		case "acl":
			bk.Acl = in.Acl
		case "ownership":
			bk.Ownership = in.Ownership
		case "encryption":
			bk.Encryption = in.Encryption
		case "lifecycle":
			bk.LifecycleXml = in.LifecycleXml
			bk.LifecycleRules = in.LifecycleRules
		case "tags":
			bk.Tags = in.Tags
		case "cors":
			bk.CorsXml = in.CorsXml
		case "public_access_block":
			bk.PublicAccessBlock = in.PublicAccessBlock
		default:
			return result(metapb.ErrorCode_INVALID_ARGUMENT, "update bucket: unknown field %q", f), nil
		}
	}
	if err := t.set(keys.BucketKey(bk.Name), bk); err != nil {
		return nil, err
	}
	return okResult(), nil
}

// updateObject replaces the named fields of one stored version in place
// (tags, ACL, retention, legal hold): these sub-resources change without
// creating a new version, as in S3.
func (t *txn) updateObject(c *metapb.UpdateObject) (*metapb.CommandResult, error) {
	if c.GetBucket() == "" || c.GetKey() == "" || len(c.Fields) == 0 {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "update object: empty bucket, key or fields"), nil
	}
	bk, err := t.bucket(c.Bucket)
	if err != nil {
		return nil, err
	}
	if bk == nil {
		return result(metapb.ErrorCode_NO_SUCH_BUCKET, "bucket %q", c.Bucket), nil
	}
	v, vk, res, err := t.lookupVersion(c.Bucket, c.Key, c.VersionId)
	if err != nil || res != nil {
		return res, err
	}
	if v.DeleteMarker {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "update object: %q/%q version %q is a delete marker", c.Bucket, c.Key, v.VersionId), nil
	}
	if !bk.ObjectLockEnabled && (slices.Contains(c.Fields, "retention") || slices.Contains(c.Fields, "legal_hold")) {
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "update object: bucket %q has no Object Lock configuration", c.Bucket), nil
	}
	in := c.GetValues()
	if in == nil {
		in = &metapb.ObjectVersion{}
	}
	for _, f := range c.Fields {
		switch f {
		case "tags":
			v.Tags = in.Tags
		case "acl":
			v.Acl = in.Acl
		case "retention":
			if r := retentionChange(v, in, c.BypassGovernance); r != nil {
				return r, nil
			}
			v.LockMode = in.LockMode
			v.LockRetainUntilUnixNano = in.LockRetainUntilUnixNano
		case "legal_hold":
			v.LegalHold = in.LegalHold
		default:
			return result(metapb.ErrorCode_INVALID_ARGUMENT, "update object: unknown field %q", f), nil
		}
	}
	if err := t.set(vk, v); err != nil {
		return nil, err
	}
	if err := t.refreshCurrent(c.Bucket, c.Key); err != nil {
		return nil, err
	}
	return &metapb.CommandResult{Version: proto.Clone(v).(*metapb.ObjectVersion)}, nil
}

// retentionChange decides whether a version's retention may change: a
// COMPLIANCE retention may only be extended; a GOVERNANCE one may be
// shortened or removed only with the bypass.
func retentionChange(cur, next *metapb.ObjectVersion, bypass bool) *metapb.CommandResult {
	if cur.LockMode == "" || cur.LockRetainUntilUnixNano == 0 {
		return nil
	}
	extends := next.LockMode == cur.LockMode && next.LockRetainUntilUnixNano >= cur.LockRetainUntilUnixNano
	if extends {
		return nil
	}
	if cur.LockMode == "GOVERNANCE" && bypass {
		return nil
	}
	return result(metapb.ErrorCode_ACCESS_DENIED, "retention of %q/%q version %q cannot be shortened or removed", cur.Bucket, cur.Key, cur.VersionId)
}

// lookupVersion finds a version (the newest when versionID is empty) and
// its key. A missing one is a NO_SUCH_KEY/NO_SUCH_VERSION result.
func (t *txn) lookupVersion(bucket, key, versionID string) (*metapb.ObjectVersion, []byte, *metapb.CommandResult, error) {
	if versionID == "" {
		var cur metapb.ObjectVersion
		found, err := getProto(t.b, keys.ObjectKey(bucket, key), &cur)
		if err != nil {
			return nil, nil, nil, err
		}
		if !found {
			return nil, nil, result(metapb.ErrorCode_NO_SUCH_KEY, "%q/%q", bucket, key), nil
		}
		versionID = cur.VersionId
	}
	seq, found, err := getUint64(t.b, keys.VersionIndexKey(bucket, key, versionID))
	if err != nil {
		return nil, nil, nil, err
	}
	if !found {
		return nil, nil, result(metapb.ErrorCode_NO_SUCH_VERSION, "%q/%q version %q", bucket, key, versionID), nil
	}
	vk := keys.VersionKey(bucket, key, seq)
	var v metapb.ObjectVersion
	found, err = getProto(t.b, vk, &v)
	if err != nil {
		return nil, nil, nil, err
	}
	if !found {
		return nil, nil, nil, fmt.Errorf("metadata: version index of %q/%q %q points at a missing row", bucket, key, versionID)
	}
	return &v, vk, nil, nil
}
