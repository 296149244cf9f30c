package pki_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/pki"
)

var now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func newCA(t *testing.T, cluster string) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(cluster, time.Now(), 24*time.Hour)
	require.NoError(t, err)
	return ca
}

// writeNode issues a certificate for id and writes CA, cert and key into
// dir, returning the file names.
func writeNode(t *testing.T, dir string, ca *pki.CA, id pki.Identity) pki.Files {
	t.Helper()
	certPEM, keyPEM, err := ca.Issue(id, []string{"127.0.0.1", "localhost"}, time.Now(), time.Hour)
	require.NoError(t, err)
	caPEM, _, err := ca.PEM()
	require.NoError(t, err)
	f := pki.Files{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "node.pem"), Key: filepath.Join(dir, "node.key")}
	require.NoError(t, os.WriteFile(f.CA, caPEM, 0o600))
	require.NoError(t, os.WriteFile(f.Cert, certPEM, 0o600))
	require.NoError(t, os.WriteFile(f.Key, keyPEM, 0o600))
	return f
}

func parse(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	require.NotNil(t, b)
	c, err := x509.ParseCertificate(b.Bytes)
	require.NoError(t, err)
	return c
}

func TestIssueCarriesIdentity(t *testing.T) {
	ca := newCA(t, "c1")
	certPEM, _, err := ca.Issue(pki.Identity{NodeID: "node-1", Roles: []string{"meta", "storage"}}, []string{"10.0.0.1", "host-1"}, now, time.Hour)
	require.NoError(t, err)
	c := parse(t, certPEM)
	id, err := pki.IdentityOf(c)
	require.NoError(t, err)
	require.Equal(t, pki.Identity{ClusterID: "c1", NodeID: "node-1", Roles: []string{"meta", "storage"}}, id)
	require.True(t, id.Has("meta"))
	require.False(t, id.Has("gateway"))
	require.Equal(t, []string{"host-1"}, c.DNSNames)
	require.Len(t, c.IPAddresses, 1)
}

func TestIssueRefusesInvalid(t *testing.T) {
	ca := newCA(t, "c1")
	for name, id := range map[string]pki.Identity{
		"no role":       {NodeID: "n"},
		"unknown role":  {NodeID: "n", Roles: []string{"root"}},
		"bad node id":   {NodeID: "n/1", Roles: []string{"meta"}},
		"empty node":    {Roles: []string{"meta"}},
		"other cluster": {ClusterID: "c2", NodeID: "n", Roles: []string{"meta"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := ca.Issue(id, nil, now, time.Hour)
			require.ErrorIs(t, err, pki.ErrInvalid)
		})
	}
}

func TestIdentityOf(t *testing.T) {
	u := func(s string) *url.URL {
		v, err := url.Parse(s)
		require.NoError(t, err)
		return v
	}
	cases := []struct {
		name string
		uris []*url.URL
		want pki.Identity
		err  bool
	}{
		{"one role", []*url.URL{u("cairn://c/meta/n1")}, pki.Identity{ClusterID: "c", NodeID: "n1", Roles: []string{"meta"}}, false},
		{"other schemes ignored", []*url.URL{u("spiffe://x/y"), u("cairn://c/gateway/g")}, pki.Identity{ClusterID: "c", NodeID: "g", Roles: []string{"gateway"}}, false},
		{"none", nil, pki.Identity{}, true},
		{"unknown role", []*url.URL{u("cairn://c/root/n1")}, pki.Identity{}, true},
		{"two nodes", []*url.URL{u("cairn://c/meta/n1"), u("cairn://c/storage/n2")}, pki.Identity{}, true},
		{"two clusters", []*url.URL{u("cairn://c/meta/n1"), u("cairn://d/storage/n1")}, pki.Identity{}, true},
		{"extra path", []*url.URL{u("cairn://c/meta/n1/x")}, pki.Identity{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := pki.IdentityOf(&x509.Certificate{URIs: tc.uris})
			if tc.err {
				require.ErrorIs(t, err, pki.ErrNoIdentity)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, id)
		})
	}
}

func TestCARoundTrip(t *testing.T) {
	ca := newCA(t, "c1")
	certPEM, keyPEM, err := ca.PEM()
	require.NoError(t, err)
	back, err := pki.ParseCA(certPEM, keyPEM)
	require.NoError(t, err)
	require.Equal(t, "c1", back.ClusterID)
	_, _, err = back.Issue(pki.Identity{NodeID: "n", Roles: []string{"admin"}}, nil, now, time.Hour)
	require.NoError(t, err)
}

// handshake runs one mutual-TLS handshake on loopback and returns the
// server's and the client's errors and the client's view of the server's
// certificate.
func handshake(t *testing.T, server, client *tls.Config) (serverErr, clientErr error, served *x509.Certificate) {
	t.Helper()
	lis, err := tls.Listen("tcp", "127.0.0.1:0", server)
	require.NoError(t, err)
	defer lis.Close()
	done := make(chan error, 1)
	go func() {
		c, err := lis.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		done <- c.(*tls.Conn).Handshake()
	}()
	conn, err := net.DialTimeout("tcp", lis.Addr().String(), 5*time.Second)
	require.NoError(t, err)
	tc := tls.Client(conn, client)
	require.NoError(t, tc.SetDeadline(time.Now().Add(5*time.Second)))
	clientErr = tc.Handshake()
	if clientErr == nil {
		served = tc.ConnectionState().PeerCertificates[0]
		// TLS 1.3 reports a refused client certificate on the first read.
		_, clientErr = tc.Read(make([]byte, 1))
		if ne, ok := clientErr.(net.Error); (ok && ne.Timeout()) || errors.Is(clientErr, io.EOF) {
			clientErr = nil
		}
	}
	_ = tc.Close()
	return <-done, clientErr, served
}

func reloader(t *testing.T, f pki.Files) *pki.Reloader {
	t.Helper()
	r, err := pki.NewReloader(f)
	require.NoError(t, err)
	return r
}

func TestMutualTLS(t *testing.T) {
	ca := newCA(t, "c1")
	server := reloader(t, writeNode(t, t.TempDir(), ca, pki.Identity{NodeID: "m1", Roles: []string{"meta"}}))
	gateway := reloader(t, writeNode(t, t.TempDir(), ca, pki.Identity{NodeID: "g1", Roles: []string{"gateway"}}))

	t.Run("cluster member accepted", func(t *testing.T) {
		serr, cerr, _ := handshake(t, server.ServerConfig(), gateway.ClientConfig())
		require.NoError(t, serr)
		require.NoError(t, cerr)
	})
	t.Run("client without certificate refused", func(t *testing.T) {
		cfg := gateway.ClientConfig()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tls.Certificate{}, nil }
		serr, _, _ := handshake(t, server.ServerConfig(), cfg)
		require.Error(t, serr)
	})
	t.Run("certificate of another CA refused", func(t *testing.T) {
		// An impostor with a certificate of its own CA, trusting anything.
		other := reloader(t, writeNode(t, t.TempDir(), newCA(t, "c1"), pki.Identity{NodeID: "m1", Roles: []string{"meta"}}))
		cfg := other.ClientConfig()
		cfg.VerifyPeerCertificate = nil
		serr, _, _ := handshake(t, server.ServerConfig(), cfg)
		require.ErrorContains(t, serr, "refused")
	})
	t.Run("server must have a server role", func(t *testing.T) {
		_, cerr, _ := handshake(t, server.ServerConfig(), gateway.ClientConfig(pki.RoleStorage))
		require.ErrorContains(t, cerr, "is not a [storage] server")
	})
}

func TestReloadOnFileChange(t *testing.T) {
	ca := newCA(t, "c1")
	dir := t.TempDir()
	files := writeNode(t, dir, ca, pki.Identity{NodeID: "s1", Roles: []string{"storage"}})
	server := reloader(t, files)
	client := reloader(t, writeNode(t, t.TempDir(), ca, pki.Identity{NodeID: "g1", Roles: []string{"gateway"}}))
	_, _, first := handshake(t, server.ServerConfig(), client.ClientConfig())
	require.NotNil(t, first)

	// Rotate: a new certificate for the same identity, with a new mtime.
	writeNode(t, dir, ca, pki.Identity{NodeID: "s1", Roles: []string{"storage"}})
	later := time.Now().Add(2 * time.Second)
	for _, p := range []string{files.Cert, files.Key, files.CA} {
		require.NoError(t, os.Chtimes(p, later, later))
	}
	require.Eventually(t, func() bool {
		_, _, c := handshake(t, server.ServerConfig(), client.ClientConfig())
		return c != nil && c.SerialNumber.Cmp(first.SerialNumber) != 0
	}, 10*time.Second, 200*time.Millisecond)
	require.NoError(t, server.Err())
}

func TestReloadKeepsOldOnBadFiles(t *testing.T) {
	ca := newCA(t, "c1")
	files := writeNode(t, t.TempDir(), ca, pki.Identity{NodeID: "s1", Roles: []string{"storage"}})
	r := reloader(t, files)
	serial := r.Leaf().SerialNumber
	require.NoError(t, os.WriteFile(files.Cert, []byte("garbage"), 0o600))
	require.Error(t, r.Reload())
	require.Equal(t, serial, r.Leaf().SerialNumber)
}

func TestNewReloaderRefusesForeignCert(t *testing.T) {
	dir := t.TempDir()
	files := writeNode(t, dir, newCA(t, "c1"), pki.Identity{NodeID: "s1", Roles: []string{"storage"}})
	otherCA, _, err := newCA(t, "c1").PEM()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(files.CA, otherCA, 0o600))
	_, err = pki.NewReloader(files)
	require.ErrorContains(t, err, "not signed by the CA")
}
