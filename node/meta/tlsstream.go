package meta

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/node/pki"
)

// raftHandshakeTimeout bounds the TLS handshake of one Raft connection: a
// peer that connects and says nothing must not hold a goroutine forever.
const raftHandshakeTimeout = 10 * time.Second

// errNotMeta refuses a Raft peer whose certificate lacks the meta role: a
// storage node or gateway of the cluster must not append to the log.
var errNotMeta = errors.New("meta: raft peer certificate lacks the meta role")

// tlsStreamLayer is raft's stream layer under mutual TLS: both ends present
// a certificate of the cluster, and both require the other to carry the
// meta role.
type tlsStreamLayer struct {
	net.Listener
	advertise net.Addr
	dialer    *dial.Dialer
	tls       *pki.Reloader
}

var _ raft.StreamLayer = (*tlsStreamLayer)(nil)

// requireMeta checks the verified peer certificate's roles (the chain was
// verified by the Reloader's configuration).
func requireMeta(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errNotMeta
	}
	id, err := pki.IdentityOf(cs.PeerCertificates[0])
	if err != nil {
		return fmt.Errorf("meta: raft peer: %w", err)
	}
	if !id.Has(pki.RoleMeta) {
		return fmt.Errorf("%w: %s", errNotMeta, id)
	}
	return nil
}

// Accept returns the next connection; its handshake runs on first use, not
// here, so that one slow client cannot stall raft's accept loop.
func (s *tlsStreamLayer) Accept() (net.Conn, error) {
	c, err := s.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cfg := s.tls.ServerConfig()
	cfg.VerifyConnection = requireMeta
	return &lazyHandshake{Conn: tls.Server(c, cfg)}, nil
}

// Dial connects to a peer and completes the handshake within timeout.
func (s *tlsStreamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	raw, err := s.dialer.DialContext(ctx, "tcp", string(addr))
	if err != nil {
		return nil, err
	}
	cfg := s.tls.ClientConfig(pki.RoleMeta)
	cfg.VerifyConnection = requireMeta
	c := tls.Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("meta: raft handshake with %s: %w", addr, err)
	}
	return c, nil
}

func (s *tlsStreamLayer) Addr() net.Addr { return s.advertise }

// lazyHandshake completes the server handshake, bounded by
// raftHandshakeTimeout, before the first read or write.
type lazyHandshake struct {
	*tls.Conn
	once sync.Once
	err  error
}

func (c *lazyHandshake) handshake() error {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), raftHandshakeTimeout)
		defer cancel()
		if c.err = c.Conn.HandshakeContext(ctx); c.err != nil {
			c.Conn.Close()
		}
	})
	return c.err
}

func (c *lazyHandshake) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *lazyHandshake) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}
