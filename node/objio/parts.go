package objio

import (
	"context"
	"fmt"
	"io"

	"github.com/cairn-io/cairn/proto/metapb"
)

// PartVersion is the record of one part of a multipart version as a
// body of its own: what ReadBody needs to read it.
func PartVersion(v *metapb.ObjectVersion, p *metapb.PartInfo) *metapb.ObjectVersion {
	return &metapb.ObjectVersion{
		Bucket:       v.GetBucket(),
		Key:          v.GetKey(),
		VersionId:    v.GetVersionId(),
		Size:         p.GetSize(),
		Etag:         p.GetEtag(),
		DataId:       p.GetDataId(),
		Profile:      p.GetProfile(),
		Shards:       p.GetShards(),
		ShardDigests: p.GetShardDigests(),
		StoredSize:   p.GetStoredSize(),
		Encryption:   p.GetEncryption(),
	}
}

// PartRange is where part number n (1-based index into v.Parts) lies in
// the object: its offset and size. ok is false when there is no such part.
func PartRange(v *metapb.ObjectVersion, n int) (off, size int64, ok bool) {
	parts := v.GetParts()
	if n < 1 || n > len(parts) {
		return 0, 0, false
	}
	for _, p := range parts[:n-1] {
		off += p.GetSize()
	}
	return off, parts[n-1].GetSize(), true
}

// readParts serves ReadBody for a multipart version: the range is mapped
// onto the parts it covers, and each of them is read as a body of its
// own, so only the stripes holding the range are fetched.
func (s *Store) readParts(ctx context.Context, v *metapb.ObjectVersion, off, length int64, w io.Writer) error {
	size := v.GetSize()
	if off < 0 || length < 0 || off > size || length > size-off {
		return fmt.Errorf("%w: range %d+%d of a %d-byte body", ErrInvalidArgument, off, length, size)
	}
	end := off + length
	var base int64
	for i, p := range v.GetParts() {
		psize := p.GetSize()
		lo, hi := max(off, base), min(end, base+psize)
		if lo < hi {
			if err := s.ReadBody(ctx, PartVersion(v, p), lo-base, hi-lo, w); err != nil {
				return fmt.Errorf("objio: part %d (%d of %d) of %s/%s: %w", p.GetNumber(), i+1, len(v.GetParts()), v.GetBucket(), v.GetKey(), err)
			}
		}
		base += psize
		if base >= end {
			break
		}
	}
	if base < end {
		return fmt.Errorf("%w: %s/%s: parts hold %d bytes, record says %d", ErrInvalidArgument, v.GetBucket(), v.GetKey(), base, size)
	}
	return nil
}
