package devcluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/node/pki"
)

// Certificates of a local cluster live in <data dir>/tls: the cluster CA
// (ca.pem, ca.key) and one certificate per process (<name>.pem,
// <name>.key), plus AdminCert for the operator's commands and the tests.
const (
	tlsDirName = "tls"
	// devClusterID names the CA's cluster when the layout has no ID.
	devClusterID = "cairn-dev"
	// AdminCert names the admin client certificate of a local cluster.
	AdminCert = "admin"
	// AllRolesCert names a certificate with every role: tests use it to
	// call storage and meta methods directly (read a shard, list unknown
	// data), which no single role may all do. It exists only in a local
	// cluster, whose CA key sits next to it anyway.
	AllRolesCert = "dev-all-roles"
	// A local cluster's CA and certificates are made for a long-lived
	// developer data directory.
	devCAValidity   = 10 * 365 * 24 * time.Hour
	devCertValidity = 5 * 365 * 24 * time.Hour
)

// Certs are the certificate files of a local cluster.
type Certs struct {
	Dir string
}

// Files are the TLS files of the named certificate (a process name or
// AdminCert).
func (c Certs) Files(name string) pki.Files {
	return pki.Files{
		CA:   filepath.Join(c.Dir, "ca.pem"),
		Cert: filepath.Join(c.Dir, name+".pem"),
		Key:  filepath.Join(c.Dir, name+".key"),
	}
}

// Env is the environment that hands the named certificate to a process
// (cairn server, cairn admin).
func (c Certs) Env(name string) []string {
	f := c.Files(name)
	return []string{"CAIRN_TLS_CA=" + f.CA, "CAIRN_TLS_CERT=" + f.Cert, "CAIRN_TLS_KEY=" + f.Key}
}

// CA reads the cluster CA, for tests that issue certificates of their own.
func (c Certs) CA() (*pki.CA, error) {
	cert, err := os.ReadFile(filepath.Join(c.Dir, "ca.pem"))
	if err != nil {
		return nil, fmt.Errorf("devcluster: read CA: %w", err)
	}
	key, err := os.ReadFile(filepath.Join(c.Dir, "ca.key"))
	if err != nil {
		return nil, fmt.Errorf("devcluster: read CA key: %w", err)
	}
	return pki.ParseCA(cert, key)
}

// Dialer dials the cluster with the named certificate.
func (c Certs) Dialer(name string) (*dial.Dialer, error) {
	r, err := pki.NewReloader(c.Files(name))
	if err != nil {
		return nil, fmt.Errorf("devcluster: %w", err)
	}
	return dial.New(dial.Config{Creds: credentials.NewTLS(r.ClientConfig())}), nil
}

// certName is the certificate (and node ID) of a process: its node ID, or
// its name for the gateway, which has none in the layout.
func certName(p Proc) string {
	if p.NodeID != "" {
		return p.NodeID
	}
	return p.Name
}

// LoadOrCreateCerts makes the cluster CA on first use and issues every
// certificate of the layout that does not exist yet, each naming its
// process's roles, and the admin certificate.
func LoadOrCreateCerts(l *Layout) (Certs, error) {
	c := Certs{Dir: filepath.Join(l.Dir, tlsDirName)}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return Certs{}, fmt.Errorf("devcluster: create %s: %w", c.Dir, err)
	}
	ca, err := c.CA()
	if errors.Is(err, os.ErrNotExist) {
		cluster := l.ClusterID
		if cluster == "" {
			cluster = devClusterID
		}
		ca, err = c.newCA(cluster)
	}
	if err != nil {
		return Certs{}, err
	}
	want := map[string][]string{
		AdminCert:    {pki.RoleAdmin},
		AllRolesCert: {pki.RoleMeta, pki.RoleStorage, pki.RoleGateway, pki.RoleAdmin},
	}
	for _, p := range l.Procs {
		want[certName(p)] = p.Roles
	}
	for name, roles := range want {
		f := c.Files(name)
		if _, err := os.Stat(f.Cert); err == nil {
			continue
		}
		cert, key, err := ca.Issue(pki.Identity{NodeID: name, Roles: roles}, []string{"127.0.0.1", "localhost"}, time.Now(), devCertValidity)
		if err != nil {
			return Certs{}, fmt.Errorf("devcluster: issue %s: %w", name, err)
		}
		if err := os.WriteFile(f.Key, key, 0o600); err != nil {
			return Certs{}, fmt.Errorf("devcluster: write %s: %w", f.Key, err)
		}
		if err := os.WriteFile(f.Cert, cert, 0o600); err != nil {
			return Certs{}, fmt.Errorf("devcluster: write %s: %w", f.Cert, err)
		}
	}
	return c, nil
}

func (c Certs) newCA(cluster string) (*pki.CA, error) {
	ca, err := pki.NewCA(cluster, time.Now(), devCAValidity)
	if err != nil {
		return nil, fmt.Errorf("devcluster: %w", err)
	}
	cert, key, err := ca.PEM()
	if err != nil {
		return nil, fmt.Errorf("devcluster: %w", err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "ca.key"), key, 0o600); err != nil {
		return nil, fmt.Errorf("devcluster: write CA key: %w", err)
	}
	if err := os.WriteFile(filepath.Join(c.Dir, "ca.pem"), cert, 0o644); err != nil {
		return nil, fmt.Errorf("devcluster: write CA: %w", err)
	}
	return ca, nil
}
