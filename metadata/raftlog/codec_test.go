package raftlog

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

func TestLogCodecRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		log  raft.Log
	}{
		{name: "zero", log: raft.Log{}},
		{name: "command", log: raft.Log{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("hello")}},
		{name: "extensions", log: raft.Log{Index: 7, Term: 3, Type: raft.LogCommand, Data: []byte{0}, Extensions: []byte("ext")}},
		{name: "configuration", log: raft.Log{Index: 1 << 40, Term: 1 << 33, Type: raft.LogConfiguration, Data: make([]byte, 4096)}},
		{name: "noop no data", log: raft.Log{Index: 2, Term: 2, Type: raft.LogNoop}},
		{name: "max index", log: raft.Log{Index: ^uint64(0), Term: ^uint64(0), Type: raft.LogBarrier}},
		{name: "appended at", log: raft.Log{Index: 3, Term: 1, AppendedAt: time.Unix(1700000000, 123456789)}},
		{name: "appended before epoch", log: raft.Log{Index: 4, Term: 1, AppendedAt: time.Unix(-5, 7)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := encodeLog(&tt.log)
			require.Equal(t, formatLogV1, b[0])
			var got raft.Log
			require.NoError(t, decodeLog(b, &got))
			requireLogEqual(t, tt.log, got)
		})
	}
}

func TestLogCodecRejectsDamage(t *testing.T) {
	good := encodeLog(&raft.Log{Index: 9, Term: 2, Data: []byte("data"), Extensions: []byte("x"), AppendedAt: time.Unix(1, 0)})
	tests := []struct {
		name    string
		b       []byte
		wantErr error
	}{
		{name: "empty", b: nil, wantErr: ErrCorrupt},
		{name: "unknown format", b: append([]byte{99}, good[1:]...), wantErr: ErrUnknownFormat},
		{name: "trailing bytes", b: append(append([]byte{}, good...), 0), wantErr: ErrCorrupt},
	}
	// Every strict prefix of a valid record is damaged.
	for n := 1; n < len(good); n++ {
		tests = append(tests, struct {
			name    string
			b       []byte
			wantErr error
		}{name: "truncated", b: good[:n], wantErr: ErrCorrupt})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l raft.Log
			require.ErrorIs(t, decodeLog(tt.b, &l), tt.wantErr)
		})
	}
}

func TestStableCodec(t *testing.T) {
	tests := []struct {
		name    string
		b       []byte
		want    []byte
		wantErr error
	}{
		{name: "value", b: encodeStable([]byte("v")), want: []byte("v")},
		{name: "empty value", b: encodeStable(nil), want: []byte{}},
		{name: "no format byte", b: nil, wantErr: ErrCorrupt},
		{name: "unknown format", b: []byte{7, 1}, wantErr: ErrUnknownFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeStable(tt.b)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// requireLogEqual compares logs by value: times by instant, and nil and
// empty byte slices as equal (raft does not distinguish them).
func requireLogEqual(t *testing.T, want, got raft.Log) {
	t.Helper()
	require.Equal(t, want.Index, got.Index, "index")
	require.Equal(t, want.Term, got.Term, "term")
	require.Equal(t, want.Type, got.Type, "type")
	require.Equal(t, string(want.Data), string(got.Data), "data")
	require.Equal(t, string(want.Extensions), string(got.Extensions), "extensions")
	require.True(t, want.AppendedAt.Equal(got.AppendedAt), "appended at: want %v got %v", want.AppendedAt, got.AppendedAt)
}
