package shardcodec

import (
	"errors"
	"fmt"

	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/proto/storagepb"
)

// Name is the content-subtype the codec is registered under.
const Name = "cairn-shard"

// Field numbers of storagepb.WriteShardRequest.
const (
	fieldRef        = 1
	fieldBlockSize  = 2
	fieldData       = 3
	fieldDataCRC32C = 4
	fieldCommit     = 5
	fieldTotalSize  = 6
)

// ErrMalformed marks bytes that are not a valid WriteShardRequest or
// ReadShardResponse.
var ErrMalformed = errors.New("shardcodec: malformed message")

func init() {
	encoding.RegisterCodecV2(Codec{})
}

// WriteChunk is a storagepb.WriteShardRequest whose Data is sent by
// reference. Marshal takes its own reference to Data; the sender keeps and
// frees its own.
type WriteChunk struct {
	Ref        *storagepb.ShardRef // first message of a stream only
	BlockSize  uint32
	Data       mem.Buffer // nil: no data
	DataCRC32C uint32
	Commit     bool
	TotalSize  uint64
}

// WriteRefs receives a storagepb.WriteShardRequest without copying its
// data: Data holds references to the pieces of the received frames that
// carry it, in order. The receiver frees them, with Free, once it is done
// with the data; receiving into a WriteRefs frees what it held before.
type WriteRefs struct {
	Ref        *storagepb.ShardRef
	BlockSize  uint32
	Data       mem.BufferSlice // nil: no data
	DataCRC32C uint32
	Commit     bool
	TotalSize  uint64
}

// Free releases the references to the data and clears the message.
func (m *WriteRefs) Free() {
	m.Data.Free()
	*m = WriteRefs{}
}

// Codec implements encoding.CodecV2; see the package doc.
type Codec struct{}

var _ encoding.CodecV2 = Codec{}

// Name returns Name.
func (Codec) Name() string { return Name }

// Marshal encodes a *WriteChunk or a *ReadChunk without copying its data,
// and anything else with the protobuf codec.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	switch c := v.(type) {
	case *WriteChunk:
		return c.marshal()
	case *ReadChunk:
		return c.marshal(), nil
	}
	return protoCodec().Marshal(v)
}

// Unmarshal decodes into a *storagepb.WriteShardRequest or a *ReadInto with
// one copy of the data, reusing the message's Data capacity, into a
// *WriteRefs or a *ReadRefs with none; anything else goes to the protobuf
// codec.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *storagepb.WriteShardRequest:
		return unmarshalWrite(data, m)
	case *WriteRefs:
		return unmarshalWriteRefs(data, m)
	case *ReadInto:
		return unmarshalRead(data, m)
	case *ReadRefs:
		return unmarshalReadRefs(data, m)
	}
	return protoCodec().Unmarshal(data, v)
}

func protoCodec() encoding.CodecV2 { return encoding.GetCodecV2(protocodec.Name) }

func (c *WriteChunk) marshal() (mem.BufferSlice, error) {
	head := make([]byte, 0, 64)
	if c.Ref != nil {
		ref, err := proto.Marshal(c.Ref)
		if err != nil {
			return nil, fmt.Errorf("shardcodec: marshal shard ref: %w", err)
		}
		head = protowire.AppendTag(head, fieldRef, protowire.BytesType)
		head = protowire.AppendBytes(head, ref)
	}
	if c.BlockSize != 0 {
		head = protowire.AppendTag(head, fieldBlockSize, protowire.VarintType)
		head = protowire.AppendVarint(head, uint64(c.BlockSize))
	}
	n := 0
	if c.Data != nil {
		n = c.Data.Len()
	}
	if n > 0 {
		head = protowire.AppendTag(head, fieldData, protowire.BytesType)
		head = protowire.AppendVarint(head, uint64(n))
	}
	if n == 0 {
		return mem.BufferSlice{mem.SliceBuffer(c.appendTail(head))}, nil
	}
	c.Data.Ref()
	return mem.BufferSlice{mem.SliceBuffer(head), c.Data, mem.SliceBuffer(c.appendTail(nil))}, nil
}

// appendTail appends the fields that follow data on the wire.
func (c *WriteChunk) appendTail(b []byte) []byte {
	if c.DataCRC32C != 0 {
		b = protowire.AppendTag(b, fieldDataCRC32C, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(c.DataCRC32C))
	}
	if c.Commit {
		b = protowire.AppendTag(b, fieldCommit, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	if c.TotalSize != 0 {
		b = protowire.AppendTag(b, fieldTotalSize, protowire.VarintType)
		b = protowire.AppendVarint(b, c.TotalSize)
	}
	return b
}

// unmarshalWrite decodes protobuf wire bytes spread over data into m,
// copying the data into m.Data's capacity when it is large enough.
func unmarshalWrite(data mem.BufferSlice, m *storagepb.WriteShardRequest) error {
	keep := m.Data[:0]
	m.Reset()
	var h writeHead
	err := decodeWrite(data, &h, func(r *reader, n int) error {
		if cap(keep) < n {
			keep = make([]byte, n)
		}
		m.Data = keep[:n]
		return r.read(m.Data)
	})
	m.Ref, m.BlockSize, m.DataCrc32C, m.Commit, m.TotalSize = h.ref, h.blockSize, h.crc, h.commit, h.totalSize
	return err
}

// unmarshalWriteRefs decodes into m keeping references to the data. They
// must be taken here: gRPC frees its own once Unmarshal returns. On error m
// holds none.
func unmarshalWriteRefs(data mem.BufferSlice, m *WriteRefs) error {
	m.Free()
	var h writeHead
	err := decodeWrite(data, &h, func(r *reader, n int) error {
		refs, err := r.refs(n)
		if err != nil {
			return err
		}
		m.Data.Free()
		m.Data = refs
		return nil
	})
	if err != nil {
		m.Free()
		return err
	}
	m.Ref, m.BlockSize, m.DataCRC32C, m.Commit, m.TotalSize = h.ref, h.blockSize, h.crc, h.commit, h.totalSize
	return nil
}

// writeHead is a WriteShardRequest less its data.
type writeHead struct {
	ref       *storagepb.ShardRef
	blockSize uint32
	crc       uint32
	commit    bool
	totalSize uint64
}

// decodeWrite decodes the WriteShardRequest spread over data into h,
// handing the data field to data with r at its first byte and its length,
// checked against what is left: data must consume exactly n bytes. A
// repeated data field is handed over each time; the last one wins, as in
// protobuf. Unknown fields, and known fields of an unexpected wire type,
// are skipped as the protobuf runtime would; they are not kept.
func decodeWrite(bufs mem.BufferSlice, h *writeHead, data func(r *reader, n int) error) error {
	r := reader{bufs: bufs}
	for !r.done() {
		tag, err := r.varint()
		if err != nil {
			return err
		}
		num, typ := protowire.DecodeTag(tag)
		if num <= 0 {
			return fmt.Errorf("%w: bad field number", ErrMalformed)
		}
		switch {
		case num == fieldRef && typ == protowire.BytesType:
			b, err := r.bytes(nil)
			if err != nil {
				return err
			}
			ref := &storagepb.ShardRef{}
			if err := proto.Unmarshal(b, ref); err != nil {
				return fmt.Errorf("%w: shard ref: %w", ErrMalformed, err)
			}
			h.ref = ref
		case num == fieldData && typ == protowire.BytesType:
			n, err := r.varint()
			if err != nil {
				return err
			}
			if n > uint64(r.remaining()) {
				return fmt.Errorf("%w: field of %d bytes, %d left", ErrMalformed, n, r.remaining())
			}
			if err := data(&r, int(n)); err != nil {
				return err
			}
		case typ == protowire.VarintType && (num == fieldBlockSize || num == fieldDataCRC32C || num == fieldCommit || num == fieldTotalSize):
			v, err := r.varint()
			if err != nil {
				return err
			}
			switch num {
			case fieldBlockSize:
				h.blockSize = uint32(v)
			case fieldDataCRC32C:
				h.crc = uint32(v)
			case fieldCommit:
				h.commit = v != 0
			case fieldTotalSize:
				h.totalSize = v
			}
		default:
			if err := r.skip(typ); err != nil {
				return err
			}
		}
	}
	return nil
}

// reader walks the buffers of one received message.
type reader struct {
	bufs mem.BufferSlice
	i    int // current buffer
	off  int // offset in it
}

func (r *reader) cur() []byte {
	for r.i < len(r.bufs) {
		b := r.bufs[r.i].ReadOnlyData()
		if r.off < len(b) {
			return b[r.off:]
		}
		r.i++
		r.off = 0
	}
	return nil
}

func (r *reader) done() bool { return len(r.cur()) == 0 }

func (r *reader) readByte() (byte, error) {
	b := r.cur()
	if len(b) == 0 {
		return 0, fmt.Errorf("%w: truncated", ErrMalformed)
	}
	r.off++
	return b[0], nil
}

func (r *reader) varint() (uint64, error) {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c, err := r.readByte()
		if err != nil {
			return 0, err
		}
		if shift == 63 && c > 1 {
			break // bits beyond 64, as the protobuf runtime refuses
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: varint overflow", ErrMalformed)
}

// read copies exactly len(p) bytes.
func (r *reader) read(p []byte) error {
	for len(p) > 0 {
		b := r.cur()
		if len(b) == 0 {
			return fmt.Errorf("%w: truncated", ErrMalformed)
		}
		n := copy(p, b)
		p = p[n:]
		r.off += n
	}
	return nil
}

// bytes reads a length-prefixed field into dst's backing array when it is
// large enough, else into a new one.
func (r *reader) bytes(dst []byte) ([]byte, error) {
	n, err := r.varint()
	if err != nil {
		return nil, err
	}
	if n > uint64(r.remaining()) {
		return nil, fmt.Errorf("%w: field of %d bytes, %d left", ErrMalformed, n, r.remaining())
	}
	if uint64(cap(dst)) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	return dst, r.read(dst)
}

func (r *reader) remaining() int {
	n := 0
	for j := r.i; j < len(r.bufs); j++ {
		n += r.bufs[j].Len()
	}
	return n - r.off
}

func (r *reader) skip(typ protowire.Type) error {
	var n uint64
	switch typ {
	case protowire.VarintType:
		_, err := r.varint()
		return err
	case protowire.Fixed32Type:
		n = 4
	case protowire.Fixed64Type:
		n = 8
	case protowire.BytesType:
		var err error
		if n, err = r.varint(); err != nil {
			return err
		}
	default:
		// Groups are not used by proto3 messages.
		return fmt.Errorf("%w: wire type %d", ErrMalformed, typ)
	}
	if n > uint64(r.remaining()) {
		return fmt.Errorf("%w: truncated", ErrMalformed)
	}
	for n > 0 {
		k := min(uint64(len(r.cur())), n)
		r.off += int(k)
		n -= k
	}
	return nil
}
