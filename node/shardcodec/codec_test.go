package shardcodec_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/node/shardcodec"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// countPool counts the buffers handed back to it.
type countPool struct{ puts int }

func (p *countPool) Get(n int) *[]byte { b := make([]byte, n); return &b }
func (p *countPool) Put(*[]byte)       { p.puts++ }

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// split cuts b into buffers at every cut offset, as frames arrive.
func split(b []byte, cuts ...int) mem.BufferSlice {
	var out mem.BufferSlice
	prev := 0
	for _, c := range cuts {
		if c > prev && c < len(b) {
			out = append(out, mem.SliceBuffer(b[prev:c]))
			prev = c
		}
	}
	return append(out, mem.SliceBuffer(b[prev:]))
}

func TestRegistered(t *testing.T) {
	require.NotNil(t, encoding.GetCodecV2(shardcodec.Name))
	require.Equal(t, shardcodec.Name, shardcodec.Codec{}.Name())
}

// TestMarshalIsProtobuf checks wire compatibility: what the codec sends is
// what a plain protobuf decoder (a storage server without the codec) reads.
func TestMarshalIsProtobuf(t *testing.T) {
	ref := &storagepb.ShardRef{DriveId: "d1", ShardId: "0123456789abcdef.3"}
	for _, tc := range []struct {
		name  string
		chunk shardcodec.WriteChunk
		want  *storagepb.WriteShardRequest
	}{
		{"first", shardcodec.WriteChunk{Ref: ref, BlockSize: 1 << 20, Data: mem.SliceBuffer(pattern(5000)), DataCRC32C: 0xdeadbeef},
			&storagepb.WriteShardRequest{Ref: ref, BlockSize: 1 << 20, Data: pattern(5000), DataCrc32C: 0xdeadbeef}},
		{"middle", shardcodec.WriteChunk{Data: mem.SliceBuffer(pattern(300)), DataCRC32C: 7},
			&storagepb.WriteShardRequest{Data: pattern(300), DataCrc32C: 7}},
		{"commit", shardcodec.WriteChunk{Commit: true, TotalSize: 1 << 40},
			&storagepb.WriteShardRequest{Commit: true, TotalSize: 1 << 40}},
		{"everything", shardcodec.WriteChunk{Ref: ref, BlockSize: 9, Data: mem.SliceBuffer([]byte("x")), DataCRC32C: 1, Commit: true, TotalSize: 1},
			&storagepb.WriteShardRequest{Ref: ref, BlockSize: 9, Data: []byte("x"), DataCrc32C: 1, Commit: true, TotalSize: 1}},
		{"empty", shardcodec.WriteChunk{}, &storagepb.WriteShardRequest{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bs, err := shardcodec.Codec{}.Marshal(&tc.chunk)
			require.NoError(t, err)
			wire := bs.Materialize()
			bs.Free()
			got := &storagepb.WriteShardRequest{}
			require.NoError(t, proto.Unmarshal(wire, got))
			require.True(t, proto.Equal(tc.want, got), "got %v", got)
			canonical, err := proto.Marshal(tc.want)
			require.NoError(t, err)
			require.Equal(t, string(canonical), string(wire), "same bytes as the protobuf runtime")
		})
	}
}

// TestUnmarshal decodes protobuf bytes cut into frames at every offset.
func TestUnmarshal(t *testing.T) {
	want := &storagepb.WriteShardRequest{
		Ref:       &storagepb.ShardRef{DriveId: "drive", ShardId: "s.1"},
		BlockSize: 4096, Data: pattern(700), DataCrc32C: 99, Commit: true, TotalSize: 700,
	}
	wire, err := proto.Marshal(want)
	require.NoError(t, err)
	m := &storagepb.WriteShardRequest{}
	for a := 0; a < len(wire); a += 13 {
		for _, b := range []int{a + 1, a + 2, a + 200, len(wire) - 1} {
			require.NoError(t, shardcodec.Codec{}.Unmarshal(split(wire, a, b), m), "cuts %d %d", a, b)
			require.True(t, proto.Equal(want, m), "cuts %d %d: %v", a, b, m)
		}
	}
}

// TestUnmarshalReusesData checks that one message received over and over
// keeps one data buffer, and that fields of the previous message do not
// leak into the next.
func TestUnmarshalReusesData(t *testing.T) {
	c := shardcodec.Codec{}
	first, err := proto.Marshal(&storagepb.WriteShardRequest{Ref: &storagepb.ShardRef{ShardId: "a"}, BlockSize: 8, Data: pattern(1000)})
	require.NoError(t, err)
	second, err := proto.Marshal(&storagepb.WriteShardRequest{Data: pattern(600), Commit: true})
	require.NoError(t, err)

	m := &storagepb.WriteShardRequest{}
	require.NoError(t, c.Unmarshal(split(first), m))
	p := &m.Data[0]
	require.NoError(t, c.Unmarshal(split(second), m))
	require.Same(t, p, &m.Data[0], "data buffer reused")
	require.Nil(t, m.Ref)
	require.Zero(t, m.BlockSize)
	require.True(t, m.Commit)
	require.Equal(t, pattern(600), m.Data)
}

func TestUnmarshalSkipsUnknownFields(t *testing.T) {
	wire := writeWithUnknownFields()
	m := &storagepb.WriteShardRequest{}
	require.NoError(t, shardcodec.Codec{}.Unmarshal(split(wire, 3, 10), m))
	require.Equal(t, []byte("data"), m.Data)
	require.Zero(t, m.BlockSize)
}

func TestUnmarshalRejectsMalformed(t *testing.T) {
	good, err := proto.Marshal(&storagepb.WriteShardRequest{Ref: &storagepb.ShardRef{ShardId: "a"}, Data: pattern(100), TotalSize: 100})
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		wire []byte
	}{
		{"truncated data", good[:len(good)-5]},
		{"truncated varint", []byte{byte(protowire.EncodeTag(6, protowire.VarintType)), 0x80}},
		{"overlong varint", append([]byte{byte(protowire.EncodeTag(6, protowire.VarintType))}, bytes.Repeat([]byte{0xff}, 11)...)},
		{"length beyond end", protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.BytesType), 1<<20)},
		{"field zero", []byte{0x00}},
		{"group", protowire.AppendTag(nil, 9, protowire.StartGroupType)},
		{"bad ref", protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte{0xff})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := shardcodec.Codec{}.Unmarshal(split(tc.wire, 1), &storagepb.WriteShardRequest{})
			require.ErrorIs(t, err, shardcodec.ErrMalformed)
		})
	}
}

// TestMarshalReferencesData checks the zero-copy contract: the data is
// not copied, and its pool sees it back only when both the sender's and
// the codec's references are gone.
func TestMarshalReferencesData(t *testing.T) {
	data := pattern(64 << 10)
	pool := &countPool{}
	buf := mem.NewBuffer(&data, pool)
	bs, err := shardcodec.Codec{}.Marshal(&shardcodec.WriteChunk{Data: buf, DataCRC32C: 1})
	require.NoError(t, err)
	require.Len(t, bs, 3)
	require.Same(t, &data[0], &bs[1].ReadOnlyData()[0], "data sent by reference")
	buf.Free()
	require.Zero(t, pool.puts, "codec still holds it")
	bs.Free()
	require.Equal(t, 1, pool.puts)
}

// TestOtherMessagesUseProtobuf checks the fallback for every other message.
func TestOtherMessagesUseProtobuf(t *testing.T) {
	c := shardcodec.Codec{}
	in := &storagepb.WriteShardResponse{Size: 12345}
	bs, err := c.Marshal(in)
	require.NoError(t, err)
	out := &storagepb.WriteShardResponse{}
	require.NoError(t, c.Unmarshal(bs, out))
	require.Equal(t, uint64(12345), out.GetSize())
	_, err = c.Marshal(struct{}{})
	require.Error(t, err)
}

// TestKnowsEveryField fails when WriteShardRequest gains a field: the codec
// would drop it on receive, so it must learn it first.
func TestKnowsEveryField(t *testing.T) {
	fields := (&storagepb.WriteShardRequest{}).ProtoReflect().Descriptor().Fields()
	var got []string
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		got = append(got, fmt.Sprintf("%d:%s", f.Number(), f.Name()))
	}
	require.Equal(t, []string{"1:ref", "2:block_size", "3:data", "4:data_crc32c", "5:commit", "6:total_size"}, got)
}

// writeWithUnknownFields is a WriteShardRequest carrying "data" among
// fields this codec does not know, as a newer gateway might send.
func writeWithUnknownFields() []byte {
	var wire []byte
	wire = protowire.AppendTag(wire, 99, protowire.BytesType)
	wire = protowire.AppendBytes(wire, []byte("future"))
	wire = protowire.AppendTag(wire, 98, protowire.Fixed64Type)
	wire = protowire.AppendFixed64(wire, 1)
	wire = protowire.AppendTag(wire, 97, protowire.Fixed32Type)
	wire = protowire.AppendFixed32(wire, 1)
	// A known field with a wrong wire type is an unknown field too.
	wire = protowire.AppendTag(wire, 2, protowire.Fixed32Type)
	wire = protowire.AppendFixed32(wire, 5)
	wire = protowire.AppendTag(wire, 3, protowire.BytesType)
	wire = protowire.AppendBytes(wire, []byte("data"))
	return wire
}
