package shardcodec_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/node/shardcodec"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// overlapping counts the frames of bs that hold some of bytes [lo, hi).
func overlapping(bs mem.BufferSlice, lo, hi int) int {
	n, at := 0, 0
	for _, b := range bs {
		if at < hi && at+b.Len() > lo {
			n++
		}
		at += b.Len()
	}
	return n
}

// dataField returns the wire bytes of a ReadShardResponse data field and
// where its data starts in them.
func dataField(data []byte) (wire []byte, start int) {
	wire = protowire.AppendTag(nil, 1, protowire.BytesType)
	wire = protowire.AppendVarint(wire, uint64(len(data)))
	return append(wire, data...), len(wire)
}

// TestReadRefs decodes a ReadShardResponse cut into frames at every
// offset: the data is the frames' own bytes, kept by exactly the frames
// that hold it until the caller frees it.
func TestReadRefs(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		gap  int // second cut this far after the first
	}{
		{"block", pattern(3000), 1000},
		{"one-byte frames", pattern(300), 1},
		{"one byte", []byte{7}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wire, start := dataField(tc.data)
			canonical, err := proto.Marshal(&storagepb.ReadShardResponse{Data: tc.data})
			require.NoError(t, err)
			require.Equal(t, canonical, wire)
			for a := 0; a <= len(wire); a++ {
				pool := newFramePool(t)
				frames := pool.frames(wire, a, a+tc.gap, a+2*tc.gap)
				m := &shardcodec.ReadRefs{}
				require.NoError(t, shardcodec.Codec{}.Unmarshal(frames, m), "cut at %d", a)
				require.Equal(t, tc.data, m.Data.Materialize(), "cut at %d", a)
				kept := overlapping(frames, start, len(wire))
				frames.Free() // as gRPC does once Unmarshal returns
				require.Equal(t, kept, pool.held(),
					"cut at %d: the data's frames are kept, the others go", a)
				m.Data.Free()
				require.Zero(t, pool.held(), "cut at %d", a)
			}
		})
	}
}

func TestReadRefsEmpty(t *testing.T) {
	for _, wire := range [][]byte{nil, protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), nil)} {
		stale := mem.BufferSlice{mem.SliceBuffer("stale")}
		m := &shardcodec.ReadRefs{Data: stale}
		require.NoError(t, shardcodec.Codec{}.Unmarshal(split(wire), m))
		require.Zero(t, m.Data.Len(), "an empty message has no data, whatever Data held")
	}
}

// TestReadRefsRepeated checks protobuf's last-one-wins: the earlier data
// field's frames are let go, the last one's kept.
func TestReadRefsRepeated(t *testing.T) {
	first, _ := dataField(pattern(2000))
	second, at := dataField([]byte(strings.Repeat("second", 250)))
	var unknown []byte
	unknown = protowire.AppendTag(unknown, 7, protowire.BytesType)
	unknown = protowire.AppendBytes(unknown, []byte("between"))
	wire := append(append(append([]byte(nil), first...), unknown...), second...)
	start := len(first) + len(unknown) + at
	want := &storagepb.ReadShardResponse{}
	require.NoError(t, proto.Unmarshal(wire, want))
	for _, cuts := range [][]int{
		{len(first), len(first) + len(unknown)}, // a frame a field
		{len(first) + 3},                        // first field shares a frame with the rest
		{1000, 2500, 2700},                      // fields across frames
		{},                                      // all in one frame
	} {
		pool := newFramePool(t)
		frames := pool.frames(wire, cuts...)
		m := &shardcodec.ReadRefs{}
		require.NoError(t, shardcodec.Codec{}.Unmarshal(frames, m), "cuts %v", cuts)
		require.Equal(t, want.GetData(), m.Data.Materialize(), "cuts %v: the last one wins", cuts)
		kept := overlapping(frames, start, len(wire))
		frames.Free()
		require.Equal(t, kept, pool.held(), "cuts %v: only the last field's frames are kept", cuts)
		m.Data.Free()
		require.Zero(t, pool.held(), "cuts %v", cuts)
	}
}

func TestReadRefsSkipsUnknownFields(t *testing.T) {
	wire := readWithUnknownFields()
	pool := newFramePool(t)
	frames := pool.frames(wire, 2, 9, 20)
	m := &shardcodec.ReadRefs{}
	require.NoError(t, shardcodec.Codec{}.Unmarshal(frames, m))
	got := &storagepb.ReadShardResponse{}
	require.NoError(t, proto.Unmarshal(wire, got))
	require.Equal(t, got.GetData(), m.Data.Materialize(), "as the protobuf runtime reads it")
	frames.Free()
	m.Data.Free()
	require.Zero(t, pool.held())
}

// TestReadRefsRejectsMalformed checks that a message the protobuf runtime
// refuses is refused, and that every reference taken before the fault is
// freed: nothing is kept, Data included.
func TestReadRefsRejectsMalformed(t *testing.T) {
	good, _ := dataField(pattern(100))
	after := func(tail ...byte) []byte { return append(append([]byte(nil), good...), tail...) }
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
		{"largest length", protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.BytesType), 1<<64-1)},
		{"field zero", []byte{0x00}},
		{"group", protowire.AppendTag(nil, 9, protowire.StartGroupType)},
		{"truncated fixed64", append(protowire.AppendTag(nil, 9, protowire.Fixed64Type), 1, 2, 3)},
		{"data then truncated tag", after(0x80)},
		{"data then field zero", after(0x00)},
		{"data then truncated field", after(protowire.AppendTag(nil, 9, protowire.Fixed32Type)...)},
		{"data then truncated data", append(after(), good[:len(good)-1]...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Error(t, proto.Unmarshal(tc.wire, &storagepb.ReadShardResponse{}), "the protobuf runtime rejects it too")
			for _, cuts := range [][]int{{}, {1}, {50}, {len(good) - 1, len(good)}} {
				pool := newFramePool(t)
				frames := pool.frames(tc.wire, cuts...)
				m := &shardcodec.ReadRefs{}
				err := shardcodec.Codec{}.Unmarshal(frames, m)
				require.ErrorIs(t, err, shardcodec.ErrMalformed, "cuts %v", cuts)
				require.Nil(t, m.Data, "cuts %v", cuts)
				frames.Free()
				require.Zero(t, pool.held(), "cuts %v: references taken before the fault are freed", cuts)
			}
		})
	}
}

// FuzzReadRefs checks that the codec accepts exactly what the protobuf
// runtime accepts, decodes the same data, and keeps no frame once the
// caller frees it.
func FuzzReadRefs(f *testing.F) {
	good, _ := dataField(pattern(40))
	f.Add(good, 3, 16)
	f.Add(append(append([]byte(nil), good...), good...), 20, 50)
	f.Add([]byte{0x0a, 0x80}, 1, 0)
	f.Add(protowire.AppendBytes(protowire.AppendTag(nil, 7, protowire.BytesType), []byte("x")), 0, 64)
	f.Fuzz(func(t *testing.T, wire []byte, cut, cut2 int) {
		pool := newFramePool(t)
		frames := pool.frames(wire, cut, cut2)
		m := &shardcodec.ReadRefs{}
		err := shardcodec.Codec{}.Unmarshal(frames, m)
		frames.Free()
		defer func() {
			m.Data.Free()
			require.Zero(t, pool.held())
		}()
		want := &storagepb.ReadShardResponse{}
		if werr := proto.Unmarshal(wire, want); werr != nil {
			require.Error(t, err, "accepted what the protobuf runtime rejects")
			return
		}
		if err != nil && strings.Contains(err.Error(), "wire type") {
			return // an unknown group: proto3 never sends one, the codec refuses it
		}
		require.NoError(t, err)
		require.Equal(t, string(want.GetData()), string(m.Data.Materialize()))
	})
}
