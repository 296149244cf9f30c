package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"
)

// Files names the PEM files of one node's TLS material. CA may be empty for
// a certificate that is only served (the S3 endpoint's).
type Files struct {
	CA   string
	Cert string
	Key  string
}

// checkEvery bounds how often a handshake looks at the files' modification
// times: rotation is picked up within a second, at the cost of one stat
// per file per second at most.
const checkEvery = time.Second

// Reloader holds a certificate, its key and the CA pool loaded from Files,
// and reloads them when the files change (noticed at the next handshake) or
// when Reload is called (on SIGHUP). Connections already established keep
// their certificates; new ones get the new. A reload that fails keeps the
// old material and reports the error. It is safe for concurrent use.
type Reloader struct {
	files Files
	now   func() time.Time

	mu struct {
		sync.Mutex
		cert      *tls.Certificate
		leaf      *x509.Certificate
		pool      *x509.CertPool
		id        Identity // zero when the certificate has no identity
		stamp     []time.Time
		lastCheck time.Time
		lastErr   error
	}
}

// NewReloader loads files once; an unreadable or invalid file is an error.
func NewReloader(files Files) (*Reloader, error) {
	r := &Reloader{files: files, now: time.Now}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Reloader) paths() []string {
	out := []string{r.files.Cert, r.files.Key}
	if r.files.CA != "" {
		out = append(out, r.files.CA)
	}
	return out
}

func (r *Reloader) stamps() ([]time.Time, error) {
	var out []time.Time
	for _, p := range r.paths() {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("pki: %w", err)
		}
		out = append(out, fi.ModTime())
	}
	return out, nil
}

// Reload reads the files now.
func (r *Reloader) Reload() error {
	stamp, err := r.stamps()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(r.files.Cert, r.files.Key)
	if err != nil {
		return fmt.Errorf("pki: load %s: %w", r.files.Cert, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return fmt.Errorf("pki: parse %s: %w", r.files.Cert, err)
	}
	cert.Leaf = leaf
	var pool *x509.CertPool
	id, idErr := IdentityOf(leaf)
	if r.files.CA != "" {
		b, err := os.ReadFile(r.files.CA)
		if err != nil {
			return fmt.Errorf("pki: read CA: %w", err)
		}
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return fmt.Errorf("%w: %s holds no PEM certificate", ErrInvalid, r.files.CA)
		}
		if idErr != nil {
			return fmt.Errorf("pki: %s: %w", r.files.Cert, idErr)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return fmt.Errorf("pki: %s is not signed by the CA in %s: %w", r.files.Cert, r.files.CA, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.cert, r.mu.leaf, r.mu.pool, r.mu.stamp = &cert, leaf, pool, stamp
	r.mu.id = id
	r.mu.lastCheck = r.now()
	r.mu.lastErr = nil
	return nil
}

// maybeReload reloads when a file's modification time changed, at most
// once per checkEvery.
func (r *Reloader) maybeReload() {
	r.mu.Lock()
	now := r.now()
	if now.Sub(r.mu.lastCheck) < checkEvery {
		r.mu.Unlock()
		return
	}
	r.mu.lastCheck = now
	old := r.mu.stamp
	r.mu.Unlock()
	stamp, err := r.stamps()
	if err != nil || slices.Equal(stamp, old) {
		return
	}
	if err := r.Reload(); err != nil {
		r.mu.Lock()
		r.mu.lastErr = err
		r.mu.Unlock()
	}
}

// Err is the error of the last automatic reload that failed, nil after a
// good one.
func (r *Reloader) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.lastErr
}

// Identity is the identity in the current certificate.
func (r *Reloader) Identity() Identity {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.id
}

// Leaf is the current certificate.
func (r *Reloader) Leaf() *x509.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.leaf
}

func (r *Reloader) current() (*tls.Certificate, *x509.CertPool) {
	r.maybeReload()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.cert, r.mu.pool
}

// ServedConfig is a TLS server configuration that presents the current
// certificate and asks nothing of clients: the S3 endpoint's.
func (r *Reloader) ServedConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, _ := r.current()
			return c, nil
		},
	}
}

// ErrPeer marks a peer certificate that the cluster does not accept.
var ErrPeer = errors.New("pki: peer certificate refused")

// verifyPeer checks a peer's chain against the current CA pool and that it
// carries an identity of this cluster; it returns that identity.
func (r *Reloader) verifyPeer(rawCerts [][]byte, usage x509.ExtKeyUsage) (Identity, error) {
	_, pool := r.current()
	if pool == nil {
		return Identity{}, fmt.Errorf("%w: no cluster CA configured", ErrPeer)
	}
	if len(rawCerts) == 0 {
		return Identity{}, fmt.Errorf("%w: no certificate", ErrPeer)
	}
	certs := make([]*x509.Certificate, len(rawCerts))
	for i, raw := range rawCerts {
		c, err := x509.ParseCertificate(raw)
		if err != nil {
			return Identity{}, fmt.Errorf("%w: %w", ErrPeer, err)
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrPeer, err)
	}
	id, err := IdentityOf(certs[0])
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrPeer, err)
	}
	if own := r.Identity(); own.ClusterID != "" && id.ClusterID != own.ClusterID {
		return Identity{}, fmt.Errorf("%w: cluster %q, want %q", ErrPeer, id.ClusterID, own.ClusterID)
	}
	return id, nil
}

// ServerConfig is the mutual-TLS configuration of an internal server (gRPC,
// Raft): a client must present a certificate of this cluster. Which roles
// may call what is decided per call from the identity (see IdentityOf).
func (r *Reloader) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, _ := r.current()
			return c, nil
		},
		// The chain is verified below against the current pool, so that a
		// rotated CA takes effect without a restart.
		ClientAuth: tls.RequireAnyClientCert,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			_, err := r.verifyPeer(raw, x509.ExtKeyUsageClientAuth)
			return err
		},
	}
}

// ClientConfig is the mutual-TLS configuration of an internal client: it
// presents the current certificate and accepts a server only if its
// certificate is of this cluster and names one of serverRoles (any server
// role when empty). Host names are not checked: nodes are dialed by
// address and authenticated by identity.
func (r *Reloader) ClientConfig(serverRoles ...string) *tls.Config {
	if len(serverRoles) == 0 {
		serverRoles = []string{RoleMeta, RoleStorage}
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c, _ := r.current()
			return c, nil
		},
		// Verification happens in VerifyPeerCertificate, against the
		// current pool and by identity rather than host name.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			id, err := r.verifyPeer(raw, x509.ExtKeyUsageServerAuth)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(serverRoles, id.Has) {
				return fmt.Errorf("%w: %s is not a %v server", ErrPeer, id, serverRoles)
			}
			return nil
		},
	}
}
