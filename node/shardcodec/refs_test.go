package shardcodec_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/node/shardcodec"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// framePool stands in for gRPC's buffer pool: it knows which received
// buffers are still referenced.
type framePool struct {
	t    *testing.T
	live map[*[]byte]bool
}

func newFramePool(t *testing.T) *framePool {
	return &framePool{t: t, live: map[*[]byte]bool{}}
}

func (p *framePool) Get(n int) *[]byte {
	p.t.Fatal("the codec took a buffer from the pool")
	return nil
}

func (p *framePool) Put(b *[]byte) {
	require.True(p.t, p.live[b], "a buffer put back twice, or not ours")
	delete(p.live, b)
}

// frames cuts wire at the cuts into buffers from p, as gRPC receives a
// message over several HTTP/2 frames. Every buffer is pooled, however
// short (gRPC keeps short ones out of its pool: here they count too).
func (p *framePool) frames(wire []byte, cuts ...int) mem.BufferSlice {
	var out mem.BufferSlice
	for _, piece := range split(wire, cuts...) {
		b := make([]byte, piece.Len(), piece.Len()+2048)
		copy(b, piece.ReadOnlyData())
		p.live[&b] = true
		out = append(out, mem.NewBuffer(&b, p))
	}
	return out
}

// held is the number of received buffers still referenced.
func (p *framePool) held() int { return len(p.live) }

// unmarshalRefs receives wire, cut at cuts, into m as gRPC would: it frees
// its own references to the frames once Unmarshal returns.
func unmarshalRefs(p *framePool, wire []byte, m *shardcodec.WriteRefs, cuts ...int) error {
	frames := p.frames(wire, cuts...)
	err := shardcodec.Codec{}.Unmarshal(frames, m)
	frames.Free()
	return err
}

// TestUnmarshalRefs decodes a message cut into frames at every offset,
// once more in a second place: the data comes back whole, by reference to
// the frames that carry it, and nothing stays referenced once it is freed.
func TestUnmarshalRefs(t *testing.T) {
	want := &storagepb.WriteShardRequest{
		Ref:       &storagepb.ShardRef{DriveId: "drive", ShardId: "s.1"},
		BlockSize: 4096, Data: pattern(700), DataCrc32C: 99, Commit: true, TotalSize: 700,
	}
	wire, err := proto.Marshal(want)
	require.NoError(t, err)
	p := newFramePool(t)
	for a := 0; a < len(wire); a++ {
		for _, b := range []int{a + 1, a + 2, a + 200, len(wire) - 1} {
			m := &shardcodec.WriteRefs{}
			require.NoError(t, unmarshalRefs(p, wire, m, a, b), "cuts %d %d", a, b)
			require.Equal(t, want.Ref.String(), m.Ref.String())
			require.Equal(t, want.BlockSize, m.BlockSize)
			require.Equal(t, want.DataCrc32C, m.DataCRC32C)
			require.True(t, m.Commit)
			require.Equal(t, want.TotalSize, m.TotalSize)
			require.Equal(t, want.Data, m.Data.Materialize(), "cuts %d %d", a, b)
			for _, piece := range m.Data {
				require.NotZero(t, piece.Len(), "no empty pieces")
			}
			require.NotZero(t, p.held(), "the data's frames are kept")
			m.Free()
			require.Zero(t, p.held(), "cuts %d %d: references left after Free", a, b)
			require.Nil(t, m.Data)
		}
	}
}

// TestUnmarshalRefsNoCopy checks that the data is the frames' own bytes.
func TestUnmarshalRefsNoCopy(t *testing.T) {
	wire, err := proto.Marshal(&storagepb.WriteShardRequest{Data: pattern(5000), DataCrc32C: 1})
	require.NoError(t, err)
	p := newFramePool(t)
	frames := p.frames(wire, 2000, 4000)
	m := &shardcodec.WriteRefs{}
	require.NoError(t, shardcodec.Codec{}.Unmarshal(frames, m))
	require.Len(t, m.Data, 3)
	head := 3 // tag and length of the data field
	for i, piece := range m.Data {
		require.Same(t, &frames[i].ReadOnlyData()[head], &piece.ReadOnlyData()[0], "piece %d", i)
		head = 0
	}
	frames.Free()
	m.Free()
	require.Zero(t, p.held())
}

// TestUnmarshalRefsRepeatedData checks protobuf's last-one-wins for a data
// field sent twice: the first one's frames are let go at once.
func TestUnmarshalRefsRepeatedData(t *testing.T) {
	var wire []byte
	wire = protowire.AppendTag(wire, 3, protowire.BytesType)
	wire = protowire.AppendBytes(wire, pattern(3000))
	cut := len(wire)
	wire = protowire.AppendTag(wire, 3, protowire.BytesType)
	wire = protowire.AppendBytes(wire, []byte("second"))
	p := newFramePool(t)
	m := &shardcodec.WriteRefs{}
	require.NoError(t, unmarshalRefs(p, wire, m, cut))
	require.Equal(t, []byte("second"), m.Data.Materialize())
	require.Equal(t, 1, p.held(), "only the last data field's frame is kept")
	m.Free()
	require.Zero(t, p.held())
}

// TestUnmarshalRefsReplaces checks that receiving into a WriteRefs lets go
// of the data it held and of every field of the previous message.
func TestUnmarshalRefsReplaces(t *testing.T) {
	first, err := proto.Marshal(&storagepb.WriteShardRequest{Ref: &storagepb.ShardRef{ShardId: "a"}, BlockSize: 8, Data: pattern(1000)})
	require.NoError(t, err)
	second, err := proto.Marshal(&storagepb.WriteShardRequest{Commit: true})
	require.NoError(t, err)
	p := newFramePool(t)
	m := &shardcodec.WriteRefs{}
	require.NoError(t, unmarshalRefs(p, first, m, 500))
	require.Equal(t, 2, p.held())
	require.NoError(t, unmarshalRefs(p, second, m))
	require.Zero(t, p.held())
	require.Equal(t, shardcodec.WriteRefs{Commit: true}, *m)
}

func TestUnmarshalRefsSkipsUnknownFields(t *testing.T) {
	wire := writeWithUnknownFields()
	wire = protowire.AppendTag(wire, 96, protowire.VarintType)
	wire = protowire.AppendVarint(wire, 300)
	p := newFramePool(t)
	m := &shardcodec.WriteRefs{}
	require.NoError(t, unmarshalRefs(p, wire, m, 3, 10))
	require.Equal(t, []byte("data"), m.Data.Materialize())
	require.Zero(t, m.BlockSize)
	m.Free()
	require.Zero(t, p.held())
}

// TestUnmarshalRefsRejectsMalformed checks that a bad message leaves
// nothing referenced: not the data read before the fault, nor what the
// message held before.
func TestUnmarshalRefsRejectsMalformed(t *testing.T) {
	good, err := proto.Marshal(&storagepb.WriteShardRequest{Ref: &storagepb.ShardRef{ShardId: "a"}, Data: pattern(100), TotalSize: 100})
	require.NoError(t, err)
	dataThenJunk := append(protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType), pattern(2000)), 0x00)
	for _, tc := range []struct {
		name string
		wire []byte
	}{
		{"truncated data", good[:len(good)-5]},
		{"truncated after data", good[:len(good)-1]},
		{"data then field zero", dataThenJunk},
		{"truncated varint", []byte{byte(protowire.EncodeTag(6, protowire.VarintType)), 0x80}},
		{"overlong varint", append([]byte{byte(protowire.EncodeTag(6, protowire.VarintType))}, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
		{"length beyond end", protowire.AppendVarint(protowire.AppendTag(nil, 3, protowire.BytesType), 1<<20)},
		{"field zero", []byte{0x00}},
		{"group", protowire.AppendTag(nil, 9, protowire.StartGroupType)},
		{"bad ref", protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte{0xff})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newFramePool(t)
			m := &shardcodec.WriteRefs{}
			require.NoError(t, unmarshalRefs(p, good, m, 7))
			for cut := 1; cut < len(tc.wire); cut += 97 {
				err := unmarshalRefs(p, tc.wire, m, cut, cut+1000)
				require.ErrorIs(t, err, shardcodec.ErrMalformed)
				require.Nil(t, m.Data)
				require.Zero(t, p.held(), "cut %d", cut)
			}
		})
	}
}

// BenchmarkUnmarshalWrite receives a 1 MiB block, as gRPC hands it over in
// 16 KiB frames, into a WriteShardRequest (one copy of the data) and into
// a WriteRefs (references to the frames).
func BenchmarkUnmarshalWrite(b *testing.B) {
	const size, frame = 1 << 20, 16 << 10
	wire, err := proto.Marshal(&storagepb.WriteShardRequest{Data: pattern(size), DataCrc32C: 1})
	require.NoError(b, err)
	// Pooled buffers, as gRPC reads frames into: a reference to a whole
	// one, or a slice of one, costs no allocation.
	var frames mem.BufferSlice
	for off := 0; off < len(wire); off += frame {
		f := wire[off:min(off+frame, len(wire))]
		frames = append(frames, mem.NewBuffer(&f, &countPool{}))
	}
	defer frames.Free()
	for _, tc := range []struct {
		name string
		msg  func() any
		free func(any)
	}{
		{"copy", func() any { return &storagepb.WriteShardRequest{} }, func(any) {}},
		{"refs", func() any { return &shardcodec.WriteRefs{} }, func(m any) { m.(*shardcodec.WriteRefs).Free() }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m := tc.msg() // one message for the stream, as the storage handler keeps
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if err := (shardcodec.Codec{}).Unmarshal(frames, m); err != nil {
					b.Fatal(err)
				}
			}
			tc.free(m)
		})
	}
}
