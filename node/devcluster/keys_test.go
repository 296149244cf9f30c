package devcluster

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLoadOrCreateKeys(t *testing.T) {
	dir := t.TempDir()
	k, err := LoadOrCreateKeys(dir)
	require.NoError(t, err)
	for _, s := range []string{k.MasterKey, k.KMSKey} {
		raw, err := base64.StdEncoding.DecodeString(s)
		require.NoError(t, err)
		require.Len(t, raw, 32)
	}
	require.NotEqual(t, k.MasterKey, k.KMSKey)
	st, err := os.Stat(filepath.Join(dir, keysFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	again, err := LoadOrCreateKeys(dir)
	require.NoError(t, err)
	require.Equal(t, k, again, "generated once, then kept")
	require.Equal(t, []string{"CAIRN_MASTER_KEY=" + k.MasterKey, "CAIRN_KMS_KEYS=cairn-dev=" + k.KMSKey}, k.Env())

	require.NoError(t, os.WriteFile(filepath.Join(dir, keysFile), []byte("{}"), 0o600))
	_, err = LoadOrCreateKeys(dir)
	require.Error(t, err)
}
