package objio

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io"

	"github.com/cairn-io/cairn/proto/metapb"
)

// MaxInlineBytes caps WriteOptions.InlineMax: an inline body rides in one
// Raft log entry, replicated to every voter and kept in its log and FSM,
// so it must stay small against the entry sizes the log and transport
// handle well.
const MaxInlineBytes = 1 << 20

// writeInline reads up to opts.InlineMax+1 bytes of r. A body that ends
// within InlineMax is returned as an inline Body (no shards are written);
// otherwise the bytes read so far are put back in front of r, and rest is
// the reader the shard pipeline must consume. A body whose declared size
// is already too large is not read here at all.
func (s *Store) writeInline(r io.Reader, opts WriteOptions) (body *Body, rest io.Reader, err error) {
	if opts.InlineMax <= 0 || opts.Size > opts.InlineMax {
		return nil, r, nil
	}
	capHint := opts.InlineMax + 1
	if opts.Size >= 0 {
		capHint = opts.Size + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, capHint))
	n, err := io.Copy(buf, io.LimitReader(r, opts.InlineMax+1))
	if err != nil {
		return nil, nil, fmt.Errorf("objio: read inline body: %w", err)
	}
	if n > opts.InlineMax {
		return nil, io.MultiReader(bytes.NewReader(buf.Bytes()), r), nil
	}
	dataID, err := s.newDataID()
	if err != nil {
		return nil, nil, err
	}
	b := &Body{DataID: dataID, Size: n, Profile: opts.Profile, Inline: buf.Bytes()}
	if !opts.NoMD5 {
		sum := md5.Sum(buf.Bytes())
		b.MD5 = sum[:]
	}
	return b, nil, nil
}

// readInline serves a range of an inline version's body from its record.
// off and length address the stored bytes (ciphertext for encrypted
// bodies), as for shard bodies.
func readInline(ctx context.Context, v *metapb.ObjectVersion, off, length int64, w io.Writer) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("objio: read inline %s: %w", v.GetDataId(), err)
	}
	data := v.GetInlineData()
	size := int64(len(data))
	want := v.GetSize()
	if ss := v.GetStoredSize(); ss > 0 {
		want = ss
	}
	if want != size {
		return fmt.Errorf("%w: inline version %s/%s holds %d bytes, its record says %d",
			ErrInvalidArgument, v.GetBucket(), v.GetKey(), size, want)
	}
	if off < 0 || length < 0 || off > size || length > size-off {
		return fmt.Errorf("%w: range %d+%d of a %d-byte body", ErrInvalidArgument, off, length, size)
	}
	if length == 0 {
		return nil
	}
	if _, err := w.Write(data[off : off+length]); err != nil {
		return fmt.Errorf("objio: write inline %s: %w", v.GetDataId(), err)
	}
	return nil
}
