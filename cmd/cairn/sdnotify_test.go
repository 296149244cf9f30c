package main

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSdNotify(t *testing.T) {
	t.Run("no socket, no-op", func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", "")
		require.NoError(t, sdNotify("READY=1"))
	})
	for _, abstract := range []bool{false, true} {
		name := "path"
		if abstract {
			name = "abstract"
		}
		t.Run(name, func(t *testing.T) {
			addr := filepath.Join(t.TempDir(), "notify.sock")
			env := addr
			if abstract {
				addr = "\x00cairn-test-" + filepath.Base(t.TempDir())
				env = "@" + addr[1:]
			}
			conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
			require.NoError(t, err)
			defer conn.Close()
			t.Setenv("NOTIFY_SOCKET", env)
			require.NoError(t, sdNotify("READY=1"))
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
			buf := make([]byte, 64)
			n, _, err := conn.ReadFromUnix(buf)
			require.NoError(t, err)
			require.Equal(t, "READY=1", string(buf[:n]))
		})
	}
	t.Run("socket gone", func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "missing.sock"))
		require.Error(t, sdNotify("READY=1"))
	})
}
