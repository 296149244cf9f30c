package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/pki"
)

// TestCertCommands: ca init writes a CA (key 0600) and refuses to
// overwrite it; cert issue writes a certificate naming the node and roles
// that verifies against the CA, with a 0600 key.
func TestCertCommands(t *testing.T) {
	dir := t.TempDir()
	caDir, out := filepath.Join(dir, "ca"), filepath.Join(dir, "out")
	require.NoError(t, runAdminCA([]string{"init", "--dir", caDir, "--cluster-id", "c1"}))
	fi, err := os.Stat(filepath.Join(caDir, "ca.key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	require.ErrorContains(t, runAdminCA([]string{"init", "--dir", caDir}), "refusing to overwrite")

	require.NoError(t, runAdminCert([]string{"issue", "--ca-dir", caDir, "--node-id", "n1", "--role", "meta,storage", "--host", "10.0.0.1,n1.example", "--out", out}))
	for _, f := range []string{"n1.pem", "n1.key"} {
		fi, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), f)
	}
	r, err := pki.NewReloader(pki.Files{CA: filepath.Join(caDir, "ca.pem"), Cert: filepath.Join(out, "n1.pem"), Key: filepath.Join(out, "n1.key")})
	require.NoError(t, err)
	id := r.Identity()
	require.Equal(t, "c1", id.ClusterID)
	require.Equal(t, "n1", id.NodeID)
	require.ElementsMatch(t, []string{"meta", "storage"}, id.Roles)
	require.Equal(t, []string{"n1.example"}, r.Leaf().DNSNames)

	require.Error(t, runAdminCert([]string{"issue", "--ca-dir", caDir, "--node-id", "n2", "--role", "superuser", "--out", out}))
}

// TestTLSFlags: certificates, or an explicit --insecure-internal; a
// partial set or neither is refused with the fix in the message.
func TestTLSFlags(t *testing.T) {
	tests := []struct {
		name     string
		ca, cert string
		insecure bool
		wantErr  string
	}{
		{name: "nothing", wantErr: "--insecure-internal"},
		{name: "partial", ca: "ca.pem", wantErr: "go together"},
		{name: "insecure", insecure: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := ""
			f := tlsFlags{ca: &tc.ca, cert: &tc.cert, key: &key, insecure: &tc.insecure}
			r, err := f.reloader()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Nil(t, r)
		})
	}
}
