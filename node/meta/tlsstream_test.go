package meta

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/node/pki"
)

// issueFiles writes a certificate of the roles for node into dir and
// returns a Reloader over it.
func issueFiles(t *testing.T, ca *pki.CA, dir, node string, roles ...string) *pki.Reloader {
	t.Helper()
	cert, key, err := ca.Issue(pki.Identity{NodeID: node, Roles: roles}, []string{"127.0.0.1"}, time.Now(), time.Hour)
	require.NoError(t, err)
	caPEM, _, err := ca.PEM()
	require.NoError(t, err)
	files := pki.Files{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, node+".pem"), Key: filepath.Join(dir, node+".key")}
	require.NoError(t, os.WriteFile(files.CA, caPEM, 0o600))
	require.NoError(t, os.WriteFile(files.Cert, cert, 0o600))
	require.NoError(t, os.WriteFile(files.Key, key, 0o600))
	r, err := pki.NewReloader(files)
	require.NoError(t, err)
	return r
}

// TestTLSStreamLayer: a meta peer's connection carries bytes both ways; a
// storage node's certificate is refused at either end.
func TestTLSStreamLayer(t *testing.T) {
	ca, err := pki.NewCA("test", time.Now(), time.Hour)
	require.NoError(t, err)
	dir := t.TempDir()
	server := issueFiles(t, ca, dir, "m1", pki.RoleMeta)
	peer := issueFiles(t, ca, dir, "m2", pki.RoleMeta)
	storage := issueFiles(t, ca, dir, "s1", pki.RoleStorage)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &tlsStreamLayer{Listener: lis, advertise: lis.Addr(), dialer: dial.Default(), tls: server}
	defer srv.Close()
	type result struct {
		got []byte
		err error
	}
	accepted := make(chan result, 2)
	go func() {
		for {
			c, err := srv.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b := make([]byte, 5)
				_, err := io.ReadFull(c, b)
				if err == nil {
					_, err = c.Write(b)
				}
				accepted <- result{b, err}
			}()
		}
	}()
	addr := raft.ServerAddress(lis.Addr().String())

	tests := []struct {
		name   string
		client *pki.Reloader
		ok     bool
	}{
		{"meta peer", peer, true},
		{"storage node", storage, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cl := &tlsStreamLayer{dialer: dial.Default(), tls: tc.client}
			c, err := cl.Dial(addr, 5*time.Second)
			if err == nil {
				defer c.Close()
				_, err = c.Write([]byte("hello"))
				if err == nil {
					b := make([]byte, 5)
					_, err = io.ReadFull(c, b)
				}
			}
			r := <-accepted
			if tc.ok {
				require.NoError(t, err)
				require.NoError(t, r.err)
				require.Equal(t, "hello", string(r.got))
				return
			}
			require.Error(t, err)
			require.ErrorIs(t, r.err, errNotMeta)
		})
	}
}
