package shardcodec

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of storagepb.ReadShardResponse.
const fieldReadData = 1

// ReadChunk is a storagepb.ReadShardResponse whose Data, the
// concatenation of its buffers, is sent by reference. Marshal takes its own
// references; the sender keeps and frees its own.
type ReadChunk struct {
	Data mem.BufferSlice
}

// ReadInto receives a storagepb.ReadShardResponse without the protobuf
// codec's buffers: Unmarshal copies the data once, from the received frames
// into Data's capacity when it is large enough (so a caller can receive
// straight into a buffer of its own), else into a new slice.
type ReadInto struct {
	Data []byte
}

// ReadRefs receives a storagepb.ReadShardResponse without copying its
// data: Unmarshal sets Data to references to the pieces of the received
// frames that hold it, and the caller frees them (Data.Free) once done
// with the bytes. gRPC frees its own references to the frames when
// Unmarshal returns, so these keep the frames alive. Unmarshal overwrites
// Data without freeing what it held.
type ReadRefs struct {
	Data mem.BufferSlice
}

func (c *ReadChunk) marshal() mem.BufferSlice {
	n := c.Data.Len()
	if n == 0 {
		return mem.BufferSlice{}
	}
	head := protowire.AppendTag(make([]byte, 0, 8), fieldReadData, protowire.BytesType)
	head = protowire.AppendVarint(head, uint64(n))
	out := make(mem.BufferSlice, 0, 1+len(c.Data))
	out = append(out, mem.SliceBuffer(head))
	for _, b := range c.Data {
		if b.Len() > 0 {
			b.Ref()
			out = append(out, b)
		}
	}
	return out
}

// unmarshalRead decodes protobuf wire bytes spread over data into m: the
// data is taken by reference (unmarshalReadRefs) and copied once, into
// m.Data's capacity when it is large enough.
func unmarshalRead(data mem.BufferSlice, m *ReadInto) error {
	keep := m.Data[:0]
	m.Data = nil
	var refs ReadRefs
	if err := unmarshalReadRefs(data, &refs); err != nil {
		return err
	}
	defer refs.Data.Free()
	n := refs.Data.Len()
	if n == 0 {
		return nil
	}
	if cap(keep) < n {
		keep = make([]byte, n)
	}
	m.Data = keep[:refs.Data.CopyTo(keep[:n])]
	return nil
}

// unmarshalReadRefs decodes protobuf wire bytes spread over data into m,
// keeping references to the data instead of copying it. Unknown fields,
// and a data field of an unexpected wire type, are skipped as the protobuf
// runtime would; a repeated data field replaces the earlier one. On error
// it frees every reference it took.
func unmarshalReadRefs(data mem.BufferSlice, m *ReadRefs) (err error) {
	m.Data = nil
	var got mem.BufferSlice
	defer func() {
		if err != nil {
			got.Free()
			return
		}
		m.Data = got
	}()
	r := reader{bufs: data}
	for !r.done() {
		tag, err := r.varint()
		if err != nil {
			return err
		}
		num, typ := protowire.DecodeTag(tag)
		if !num.IsValid() {
			return fmt.Errorf("%w: bad field number", ErrMalformed)
		}
		if num == fieldReadData && typ == protowire.BytesType {
			n, err := r.varint()
			if err != nil {
				return err
			}
			if n > uint64(r.remaining()) {
				return fmt.Errorf("%w: field of %d bytes, %d left", ErrMalformed, n, r.remaining())
			}
			refs, err := r.refs(int(n))
			if err != nil {
				return err
			}
			// A repeated field replaces the earlier one (protobuf's
			// last-one-wins): the earlier one's frames may go.
			got.Free()
			got = refs
			continue
		}
		if err := r.skip(typ); err != nil {
			return err
		}
	}
	return nil
}

// Negotiated reports whether the RPC whose server context is ctx asked for
// this codec, so that the server may send a ReadChunk: gRPC picks the
// server's codec from the request's content-subtype, and a client without
// it (an older gateway) is served by the protobuf codec, which knows only
// protobuf messages.
func Negotiated(ctx context.Context) bool {
	for _, ct := range metadata.ValueFromIncomingContext(ctx, "content-type") {
		sub, ok := strings.CutPrefix(ct, "application/grpc+")
		if !ok {
			continue
		}
		sub, _, _ = strings.Cut(sub, ";")
		if strings.EqualFold(sub, Name) {
			return true
		}
	}
	return false
}
