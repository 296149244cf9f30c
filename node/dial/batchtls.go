package dial

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"

	"google.golang.org/grpc/credentials"
)

// BatchWrites wraps transport credentials (TLS) so that one Write of the
// secured connection reaches the socket as one system call.
//
// crypto/tls writes every record, at most 16 KiB, with its own Write on
// the connection beneath it. gRPC's transport flushes up to a megabyte at a
// time (its write buffer is sized for shard blocks), so a shard block left
// a gateway in some 64 system calls, each a trip through the TCP stack and
// a wake-up of the receiver: 11 % of a gateway's CPU under 1 MiB PUTs. The
// records of one Write are gathered and written together once tls.Conn
// has produced them all. The handshake, and anything crypto/tls writes
// outside a Write (alerts, close_notify), go through at once as before.
//
// Credentials that secure nothing (insecure) are returned as they are.
func BatchWrites(c credentials.TransportCredentials) credentials.TransportCredentials {
	if c == nil || c.Info().SecurityProtocol != "tls" {
		return c
	}
	if _, ok := c.(batchCreds); ok {
		return c
	}
	return batchCreds{c}
}

type batchCreds struct {
	credentials.TransportCredentials
}

func (b batchCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	bc := newBatchConn(raw)
	conn, info, err := b.TransportCredentials.ClientHandshake(ctx, authority, bc)
	if err != nil {
		return nil, nil, err
	}
	return &flushConn{Conn: conn, raw: bc}, info, nil
}

func (b batchCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	bc := newBatchConn(raw)
	conn, info, err := b.TransportCredentials.ServerHandshake(bc)
	if err != nil {
		return nil, nil, err
	}
	return &flushConn{Conn: conn, raw: bc}, info, nil
}

func (b batchCreds) Clone() credentials.TransportCredentials {
	return batchCreds{b.TransportCredentials.Clone()}
}

// maxKeptBatch bounds the gathering buffer a connection keeps between
// writes; a larger one (an unusually large write) is let go after use.
const maxKeptBatch = 4 << 20

// batchConn is the raw connection under tls.Conn. While a Write of the
// secured connection is running (batching > 0) it gathers what crypto/tls
// writes; otherwise it writes through.
type batchConn struct {
	net.Conn
	mu       sync.Mutex
	batching int
	buf      []byte
}

func newBatchConn(c net.Conn) *batchConn { return &batchConn{Conn: c} }

func (c *batchConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.batching == 0 {
		return c.Conn.Write(p)
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

func (c *batchConn) begin() {
	c.mu.Lock()
	c.batching++
	c.mu.Unlock()
}

// end writes what was gathered. The lock is held across the write so that
// bytes reach the socket in the order crypto/tls produced them.
func (c *batchConn) end() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batching--
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	if cap(c.buf) > maxKeptBatch {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// SyscallConn exposes the socket, as the unwrapped connection does, for
// gRPC's socket options and channelz.
func (c *batchConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errNoSyscallConn
	}
	return sc.SyscallConn()
}

// flushConn is the secured connection gRPC uses: each Write gathers the
// records crypto/tls produces and sends them at once.
type flushConn struct {
	net.Conn // as returned by the wrapped credentials' handshake
	raw      *batchConn
}

func (c *flushConn) Write(p []byte) (int, error) {
	c.raw.begin()
	n, err := c.Conn.Write(p)
	if ferr := c.raw.end(); ferr != nil {
		// The records tls.Conn counted as written never left: none of p
		// is known to have reached the peer.
		return 0, ferr
	}
	return n, err
}

// SyscallConn is the socket's, as for the connection the wrapped
// credentials return.
func (c *flushConn) SyscallConn() (syscall.RawConn, error) { return c.raw.SyscallConn() }

var errNoSyscallConn = errors.New("dial: connection has no file descriptor")
