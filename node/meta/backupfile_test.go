package meta

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

func TestBackupFileFormat(t *testing.T) {
	h := &metapb.BackupHeader{ClusterId: "prod", Index: 42, Term: 7, NodeId: "meta-1", CreatedUnixNano: 1}
	payload := bytes.Repeat([]byte("state"), 1000)
	var buf bytes.Buffer
	n, err := WriteBackup(&buf, h, bytes.NewReader(payload))
	require.NoError(t, err)
	require.EqualValues(t, len(payload), n)
	good := buf.Bytes()

	info, err := VerifyBackup(bytes.NewReader(good), int64(len(good)))
	require.NoError(t, err)
	require.Equal(t, h.GetClusterId(), info.Header.GetClusterId())
	require.Equal(t, h.GetIndex(), info.Header.GetIndex())
	require.Equal(t, h.GetTerm(), info.Header.GetTerm())
	require.Equal(t, payload, good[info.PayloadOffset:info.PayloadOffset+info.PayloadLen])

	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for _, tc := range []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"not a backup", []byte("CAIRNFSM\x00\x00\x00\x01 something else entirely, long enough for a header")},
		{"future version", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 2); return b })},
		{"huge header", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[12:], 1<<30); return b })},
		{"flipped payload bit", mutate(func(b []byte) []byte { b[int(info.PayloadOffset)+10] ^= 1; return b })},
		{"edited header", mutate(func(b []byte) []byte { i := bytes.Index(b, []byte("prod")); b[i] = 'q'; return b })},
		{"flipped checksum bit", mutate(func(b []byte) []byte { b[len(b)-1] ^= 1; return b })},
		{"truncated", good[:len(good)-1]},
		{"truncated to header", good[:info.PayloadOffset]},
		{"trailing byte", append(bytes.Clone(good), 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyBackup(bytes.NewReader(tc.file), int64(len(tc.file)))
			require.ErrorIs(t, err, ErrBadBackup)
		})
	}
}
