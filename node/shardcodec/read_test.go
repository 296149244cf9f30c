package shardcodec_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/node/shardcodec"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// TestReadChunkIsProtobuf checks wire compatibility: what a storage node
// sends by reference is what a gateway without the codec decodes.
func TestReadChunkIsProtobuf(t *testing.T) {
	for _, tc := range []struct {
		name string
		data mem.BufferSlice
		want []byte
	}{
		{"block", mem.BufferSlice{mem.SliceBuffer(pattern(256 << 10))}, pattern(256 << 10)},
		{"blocks", mem.BufferSlice{mem.SliceBuffer(pattern(300)), mem.SliceBuffer(nil), mem.SliceBuffer([]byte("xyz"))}, append(pattern(300), "xyz"...)},
		{"one byte", mem.BufferSlice{mem.SliceBuffer([]byte{7})}, []byte{7}},
		{"empty", mem.BufferSlice{mem.SliceBuffer(nil)}, nil},
		{"nil", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bs, err := shardcodec.Codec{}.Marshal(&shardcodec.ReadChunk{Data: tc.data})
			require.NoError(t, err)
			wire := bs.Materialize()
			bs.Free()
			canonical, err := proto.Marshal(&storagepb.ReadShardResponse{Data: tc.want})
			require.NoError(t, err)
			require.Equal(t, string(canonical), string(wire), "same bytes as the protobuf runtime")
		})
	}
}

// TestReadChunkReferencesData checks the zero-copy contract of the read
// direction: the pool sees the data back only when both the sender's and
// the codec's references are gone.
func TestReadChunkReferencesData(t *testing.T) {
	data := pattern(64 << 10)
	pool := &countPool{}
	root := mem.NewBuffer(&data, pool)
	parts := mem.BufferSlice{root.Slice(100, 5000), root.Slice(5004, 9000)}
	root.Free()
	bs, err := shardcodec.Codec{}.Marshal(&shardcodec.ReadChunk{Data: parts})
	require.NoError(t, err)
	require.Len(t, bs, 3)
	require.Same(t, &data[100], &bs[1].ReadOnlyData()[0], "data sent by reference")
	require.Same(t, &data[5004], &bs[2].ReadOnlyData()[0], "data sent by reference")
	parts.Free()
	require.Zero(t, pool.puts, "codec still holds it")
	bs.Free()
	require.Equal(t, 1, pool.puts)
}

// TestReadInto decodes a ReadShardResponse cut into frames anywhere, into
// the caller's buffer when it is large enough and into a new one when not.
func TestReadInto(t *testing.T) {
	want := pattern(3000)
	wire, err := proto.Marshal(&storagepb.ReadShardResponse{Data: want})
	require.NoError(t, err)
	for _, tc := range []struct {
		name    string
		dst     []byte
		inPlace bool
	}{
		{"exact buffer", make([]byte, 0, 3000), true},
		{"larger buffer", make([]byte, 17, 8000), true},
		{"small buffer", make([]byte, 0, 2999), false},
		{"no buffer", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for a := 0; a < len(wire); a += 97 {
				m := &shardcodec.ReadInto{Data: tc.dst}
				require.NoError(t, shardcodec.Codec{}.Unmarshal(split(wire, a, a+1, a+1000), m), "cut at %d", a)
				require.Equal(t, want, m.Data)
				if tc.inPlace {
					require.Same(t, &tc.dst[:1][0], &m.Data[0], "decoded into the caller's buffer")
				} else if cap(tc.dst) > 0 {
					require.NotSame(t, &tc.dst[:1][0], &m.Data[0])
				}
			}
		})
	}
}

func TestReadIntoEmpty(t *testing.T) {
	m := &shardcodec.ReadInto{Data: []byte("stale")}
	require.NoError(t, shardcodec.Codec{}.Unmarshal(mem.BufferSlice{}, m))
	require.Empty(t, m.Data, "an empty message has no data, whatever the buffer held")
}

func TestReadIntoSkipsUnknownFields(t *testing.T) {
	wire := readWithUnknownFields()
	m := &shardcodec.ReadInto{Data: make([]byte, 0, 16)}
	require.NoError(t, shardcodec.Codec{}.Unmarshal(split(wire, 2, 9, 20), m))
	require.Equal(t, []byte("data"), m.Data)
	got := &storagepb.ReadShardResponse{}
	require.NoError(t, proto.Unmarshal(wire, got))
	require.Equal(t, got.GetData(), m.Data, "as the protobuf runtime reads it")
}

func TestReadIntoRejectsMalformed(t *testing.T) {
	good, err := proto.Marshal(&storagepb.ReadShardResponse{Data: pattern(100)})
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		wire []byte
	}{
		{"truncated data", good[:len(good)-1]},
		{"truncated length", good[:1]},
		{"truncated varint", []byte{byte(protowire.EncodeTag(2, protowire.VarintType)), 0x80}},
		{"overlong varint", []byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"length beyond end", protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.BytesType), 1<<20)},
		{"huge length", protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.BytesType), 1<<62)},
		{"field zero", []byte{0x00}},
		{"group", protowire.AppendTag(nil, 9, protowire.StartGroupType)},
		{"truncated fixed64", append(protowire.AppendTag(nil, 9, protowire.Fixed64Type), 1, 2, 3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := shardcodec.Codec{}.Unmarshal(split(tc.wire, 1), &shardcodec.ReadInto{Data: make([]byte, 0, 200)})
			require.ErrorIs(t, err, shardcodec.ErrMalformed)
			require.Error(t, proto.Unmarshal(tc.wire, &storagepb.ReadShardResponse{}), "the protobuf runtime rejects it too")
		})
	}
}

// FuzzReadInto checks that the codec accepts exactly what the protobuf
// runtime accepts, and decodes the same data.
func FuzzReadInto(f *testing.F) {
	good, err := proto.Marshal(&storagepb.ReadShardResponse{Data: pattern(40)})
	require.NoError(f, err)
	f.Add(good, 3, 16)
	f.Add([]byte{0x0a, 0x80}, 1, 0)
	f.Add(protowire.AppendBytes(protowire.AppendTag(nil, 7, protowire.BytesType), []byte("x")), 0, 64)
	f.Fuzz(func(t *testing.T, wire []byte, cut, capacity int) {
		if capacity < 0 || capacity > 1<<16 {
			capacity = 0
		}
		m := &shardcodec.ReadInto{Data: make([]byte, 0, capacity)}
		err := shardcodec.Codec{}.Unmarshal(split(wire, cut), m)
		want := &storagepb.ReadShardResponse{}
		werr := proto.Unmarshal(wire, want)
		if werr != nil {
			require.Error(t, err, "accepted what the protobuf runtime rejects")
			return
		}
		if err != nil && strings.Contains(err.Error(), "wire type") {
			return // an unknown group: proto3 never sends one, the codec refuses it
		}
		require.NoError(t, err)
		require.Equal(t, string(want.GetData()), string(m.Data))
	})
}

func TestNegotiated(t *testing.T) {
	for _, tc := range []struct {
		ct   []string
		want bool
	}{
		{[]string{"application/grpc+cairn-shard"}, true},
		{[]string{"application/grpc+CAIRN-SHARD"}, true},
		{[]string{"application/grpc+cairn-shard;charset=utf-8"}, true},
		{[]string{"application/grpc"}, false},
		{[]string{"application/grpc+proto"}, false},
		{[]string{"application/json+cairn-shard"}, false},
		{nil, false},
	} {
		ctx := context.Background()
		if tc.ct != nil {
			ctx = metadata.NewIncomingContext(ctx, metadata.MD{"content-type": tc.ct})
		}
		require.Equal(t, tc.want, shardcodec.Negotiated(ctx), "%q", tc.ct)
	}
}

// TestKnowsEveryReadField fails when ReadShardResponse gains a field: the
// codec would drop it on receive and never send it.
func TestKnowsEveryReadField(t *testing.T) {
	fields := (&storagepb.ReadShardResponse{}).ProtoReflect().Descriptor().Fields()
	require.Equal(t, 1, fields.Len())
	require.Equal(t, "data", string(fields.ByNumber(1).Name()))
}

// readWithUnknownFields is a ReadShardResponse carrying "data" among
// fields this codec does not know, as a newer storage node might send.
func readWithUnknownFields() []byte {
	var wire []byte
	wire = protowire.AppendTag(wire, 2, protowire.VarintType)
	wire = protowire.AppendVarint(wire, 1<<40)
	wire = protowire.AppendTag(wire, 99, protowire.BytesType)
	wire = protowire.AppendBytes(wire, []byte("future"))
	// A data field of the wrong wire type is an unknown field too.
	wire = protowire.AppendTag(wire, 1, protowire.Fixed64Type)
	wire = protowire.AppendFixed64(wire, 1)
	wire = protowire.AppendTag(wire, 1, protowire.BytesType)
	wire = protowire.AppendBytes(wire, []byte("data"))
	wire = protowire.AppendTag(wire, 98, protowire.Fixed32Type)
	wire = protowire.AppendFixed32(wire, 1)
	return wire
}
