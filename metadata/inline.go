package metadata

import (
	"fmt"

	"github.com/cairn-io/cairn/metadata/keys"
	"github.com/cairn-io/cairn/proto/metapb"
)

// MaxInlineBytes bounds the body an object version may carry inline
// (ObjectVersion.inline_data): it rides in one Raft entry that every voter
// logs and applies, so the group refuses anything larger whatever a
// gateway is configured with.
const MaxInlineBytes = 1 << 20

// checkInline refuses a version whose inline body is too large or that
// claims both an inline body and shards or parts.
func checkInline(v *metapb.ObjectVersion) *metapb.CommandResult {
	if !v.GetInline() {
		if len(v.GetInlineData()) > 0 {
			return result(metapb.ErrorCode_INVALID_ARGUMENT, "put object: inline data on a version that is not inline")
		}
		return nil
	}
	switch {
	case len(v.GetInlineData()) > MaxInlineBytes:
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "put object: inline body of %d bytes exceeds %d", len(v.GetInlineData()), MaxInlineBytes)
	case len(v.GetShards()) > 0 || len(v.GetParts()) > 0 || v.GetProfile() != nil:
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "put object: an inline version has no shards, parts or profile")
	case v.GetDataId() == "":
		// The data ID keys the commit record that makes a replayed
		// PutObject answer with its first outcome.
		return result(metapb.ErrorCode_INVALID_ARGUMENT, "put object: an inline version needs a data ID")
	}
	return nil
}

// setCurrent writes the current row of v's key. An inline body is kept in
// the version row only: the current row is read by listings, conditional
// writes and updates, none of which need the bytes, and storing them twice
// would double the FSM's write volume for small objects. GetObject
// follows the current row to the version row for the body.
func (t *txn) setCurrent(v *metapb.ObjectVersion) error {
	if body := v.GetInlineData(); len(body) > 0 {
		// Encoded without the body, which is put back: cheaper than a
		// deep copy of the version and its body.
		v.InlineData = nil
		defer func() { v.InlineData = body }()
	}
	return t.set(keys.ObjectKey(v.Bucket, v.Key), v)
}

// inlineBody fills v, read from a current row, with its inline body from
// the version row.
func inlineBody(r reader, v *metapb.ObjectVersion) error {
	if !v.GetInline() || len(v.GetInlineData()) > 0 {
		return nil
	}
	var full metapb.ObjectVersion
	found, err := getProto(r, keys.VersionKey(v.Bucket, v.Key, v.Seq), &full)
	if err != nil {
		return err
	}
	if !found || full.VersionId != v.VersionId {
		return fmt.Errorf("%w: current row of %q/%q points at missing version %d", ErrCorrupt, v.Bucket, v.Key, v.Seq)
	}
	v.InlineData = full.InlineData
	return nil
}
