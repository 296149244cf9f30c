package server

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/pki"
)

// TestIdentityFromCertificate: the node ID and roles of a process are its
// certificate's; without a certificate only an explicit InsecureInternal
// runs.
func TestIdentityFromCertificate(t *testing.T) {
	ca, err := pki.NewCA("c1", time.Now(), time.Hour)
	require.NoError(t, err)
	cert, key, err := ca.Issue(pki.Identity{NodeID: "s1", Roles: []string{pki.RoleStorage}}, nil, time.Now(), time.Hour)
	require.NoError(t, err)
	caPEM, _, err := ca.PEM()
	require.NoError(t, err)
	dir := t.TempDir()
	files := pki.Files{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "s1.pem"), Key: filepath.Join(dir, "s1.key")}
	for p, b := range map[string][]byte{files.CA: caPEM, files.Cert: cert, files.Key: key} {
		require.NoError(t, os.WriteFile(p, b, 0o600))
	}
	r, err := pki.NewReloader(files)
	require.NoError(t, err)

	tests := []struct {
		name    string
		cfg     Config
		wantID  string
		wantErr string
	}{
		{name: "node id from the certificate", cfg: Config{Roles: []string{RoleStorage}, TLS: r}, wantID: "s1"},
		{name: "matching node id", cfg: Config{NodeID: "s1", Roles: []string{RoleStorage}, TLS: r}, wantID: "s1"},
		{name: "another node's id", cfg: Config{NodeID: "s2", Roles: []string{RoleStorage}, TLS: r}, wantErr: "not the certificate's"},
		{name: "a role the certificate lacks", cfg: Config{Roles: []string{RoleStorage, RoleMeta}, TLS: r}, wantErr: "role meta is not in the certificate"},
		{name: "no certificate", cfg: Config{NodeID: "s1", Roles: []string{RoleStorage}}, wantErr: "--insecure-internal"},
		{name: "another cluster", cfg: Config{ClusterID: "c2", Roles: []string{RoleStorage}, TLS: r}, wantErr: "cluster id \"c2\" is not the certificate's"},
		{name: "explicitly insecure", cfg: Config{NodeID: "s1", ClusterID: "c1", Roles: []string{RoleStorage}, InsecureInternal: true}, wantID: "s1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.GRPCAddr, cfg.MetaAddrs, cfg.Drives = "127.0.0.1:0", []string{"127.0.0.1:1"}, []string{dir}
			cfg.setDefaults()
			err := cfg.Validate()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantID, cfg.NodeID)
		})
	}
}
