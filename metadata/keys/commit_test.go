package keys

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCommitKeys(t *testing.T) {
	tables := []byte{TableBucket, TableCurrent, TableGC, TableUpload, TableUser, TableNode,
		TablePart, TableSystem, TableVersion, TableVersionIndex}
	for _, tb := range []byte{TableBody, TableCompleted} {
		require.NotContains(t, tables, tb, "table %q is taken", tb)
	}
	require.Equal(t, []byte{TableBody, 'd', 0x00, 0x01}, BodyKey("d"))
	require.NotEqual(t, BodyKey("a\x00"), BodyKey("a"))

	k := CompletedKey("b", "k", "u")
	require.True(t, bytes.HasPrefix(k, []byte{TableCompleted}))
	require.True(t, bytes.HasPrefix(k, CompletedKeyPrefix("b", "k")))
	// Uploads of "k/x" are not under the prefix of "k".
	require.False(t, bytes.HasPrefix(CompletedKey("b", "k/x", "u"), CompletedKeyPrefix("b", "k")))
	require.NotEqual(t, CompletedKey("b", "ku", ""), CompletedKey("b", "k", "u"))
}
