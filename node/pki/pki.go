// Package pki is the cluster's certificate authority and node identities:
// it creates a cluster CA, issues node certificates that carry the node's
// ID and roles, reads the identity back from a verified peer certificate,
// and builds the mutual-TLS configurations of servers and clients with
// certificates that reload from disk without dropping connections.
//
// Identity lives in URI subject alternative names of the form
//
//	cairn://<cluster-id>/<role>/<node-id>
//
// one per role, so that a certificate names exactly the roles its holder
// may play; a node cannot claim another node's ID without the CA's key.
//
// Imports: the standard library only; it knows nothing of gRPC or the roles.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Roles a certificate can carry. Admin is the operator's client identity
// (cairn admin); it is never a server.
const (
	RoleMeta    = "meta"
	RoleStorage = "storage"
	RoleGateway = "gateway"
	RoleAdmin   = "admin"
)

// Scheme is the URI scheme of identity SANs.
const Scheme = "cairn"

var (
	// ErrNoIdentity marks a certificate without a Cairn identity.
	ErrNoIdentity = errors.New("pki: certificate carries no cairn identity")
	// ErrInvalid marks an identity or request that cannot be issued.
	ErrInvalid = errors.New("pki: invalid identity")
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Identity is who a certificate says its holder is.
type Identity struct {
	ClusterID string
	NodeID    string
	Roles     []string
}

// Has reports whether the identity may play role.
func (id Identity) Has(role string) bool { return slices.Contains(id.Roles, role) }

// String renders the identity for logs: node-1[meta,storage].
func (id Identity) String() string { return fmt.Sprintf("%s%v", id.NodeID, id.Roles) }

func validRole(r string) bool {
	switch r {
	case RoleMeta, RoleStorage, RoleGateway, RoleAdmin:
		return true
	}
	return false
}

// Validate reports whether id can be put in a certificate.
func (id Identity) Validate() error {
	if !idPattern.MatchString(id.ClusterID) {
		return fmt.Errorf("%w: cluster ID %q", ErrInvalid, id.ClusterID)
	}
	if !idPattern.MatchString(id.NodeID) {
		return fmt.Errorf("%w: node ID %q", ErrInvalid, id.NodeID)
	}
	if len(id.Roles) == 0 {
		return fmt.Errorf("%w: no role", ErrInvalid)
	}
	for _, r := range id.Roles {
		if !validRole(r) {
			return fmt.Errorf("%w: role %q (want meta, storage, gateway or admin)", ErrInvalid, r)
		}
	}
	return nil
}

func (id Identity) uris() []*url.URL {
	out := make([]*url.URL, 0, len(id.Roles))
	for _, r := range id.Roles {
		out = append(out, &url.URL{Scheme: Scheme, Host: id.ClusterID, Path: "/" + r + "/" + id.NodeID})
	}
	return out
}

// IdentityOf reads the identity from a certificate the TLS stack has
// already verified against the cluster CA. Every identity URI must name the
// same cluster and node.
func IdentityOf(cert *x509.Certificate) (Identity, error) {
	var id Identity
	for _, u := range cert.URIs {
		if u.Scheme != Scheme {
			continue
		}
		role, node, ok := cut(strings.TrimPrefix(u.Path, "/"))
		if !ok || !validRole(role) || !idPattern.MatchString(node) || !idPattern.MatchString(u.Host) {
			return Identity{}, fmt.Errorf("%w: malformed URI %s", ErrNoIdentity, u)
		}
		if id.NodeID != "" && (id.NodeID != node || id.ClusterID != u.Host) {
			return Identity{}, fmt.Errorf("%w: URIs name different nodes", ErrNoIdentity)
		}
		id.ClusterID, id.NodeID = u.Host, node
		if !id.Has(role) {
			id.Roles = append(id.Roles, role)
		}
	}
	if id.NodeID == "" {
		return Identity{}, ErrNoIdentity
	}
	return id, nil
}

func cut(s string) (role, node string, ok bool) {
	role, node, ok = strings.Cut(s, "/")
	return role, node, ok && role != "" && node != "" && !strings.Contains(node, "/")
}

// CA is a cluster certificate authority: its certificate and key.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// ClusterID is the cluster the CA issues for (its subject's
	// organizational unit).
	ClusterID string
}

// NewCA creates a self-signed CA for clusterID valid for validity from now.
func NewCA(clusterID string, now time.Time, validity time.Duration) (*CA, error) {
	if !idPattern.MatchString(clusterID) {
		return nil, fmt.Errorf("%w: cluster ID %q", ErrInvalid, clusterID)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("pki: CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "cairn cluster CA " + clusterID, OrganizationalUnit: []string{clusterID}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pki: create CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parse CA: %w", err)
	}
	return &CA{Cert: cert, Key: key, ClusterID: clusterID}, nil
}

// Issue signs a certificate for id, usable as both TLS server and client
// certificate, for the given DNS names and IP addresses (the addresses
// peers dial it at).
func (ca *CA) Issue(id Identity, hosts []string, now time.Time, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if id.ClusterID == "" {
		id.ClusterID = ca.ClusterID
	}
	if err := id.Validate(); err != nil {
		return nil, nil, err
	}
	if id.ClusterID != ca.ClusterID {
		return nil, nil, fmt.Errorf("%w: cluster %q, the CA issues for %q", ErrInvalid, id.ClusterID, ca.ClusterID)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: node key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: id.NodeID, OrganizationalUnit: id.Roles},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:         id.uris(),
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: issue %s: %w", id, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// PEM encodes the CA's certificate and key.
func (ca *CA) PEM() (certPEM, keyPEM []byte, err error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("pki: encode CA key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// ParseCA decodes a CA written by PEM.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: CA certificate is not PEM", ErrInvalid)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: parse CA certificate: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, fmt.Errorf("%w: CA key is not PEM", ErrInvalid)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: parse CA key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok || !cert.IsCA {
		return nil, fmt.Errorf("%w: not a CA certificate and key", ErrInvalid)
	}
	cluster := ""
	if ou := cert.Subject.OrganizationalUnit; len(ou) > 0 {
		cluster = ou[0]
	}
	return &CA{Cert: cert, Key: signer, ClusterID: cluster}, nil
}

func newSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("pki: serial: %w", err)
	}
	return s, nil
}
