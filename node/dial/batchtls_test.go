package dial

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// testTLS returns server and client TLS credentials for "localhost".
func testTLS(t *testing.T) (server, client credentials.TransportCredentials) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	server = credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	client = credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: "localhost"})
	return server, client
}

// countingConn counts the Write calls that reach the socket.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// handshakePair connects a client and a server over loopback TCP through
// the given credentials and returns both secured ends and the client's
// socket counter.
func handshakePair(t *testing.T, server, client credentials.TransportCredentials) (cli, srv net.Conn, socket *countingConn) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer lis.Close()
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		raw, err := lis.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		c, _, err := server.ServerHandshake(raw)
		done <- result{c, err}
	}()
	raw, err := net.Dial("tcp", lis.Addr().String())
	require.NoError(t, err)
	socket = &countingConn{Conn: raw}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, _, err = client.ClientHandshake(ctx, "localhost", socket)
	require.NoError(t, err)
	r := <-done
	require.NoError(t, r.err)
	t.Cleanup(func() { cli.Close(); r.conn.Close() })
	return cli, r.conn, socket
}

func TestBatchWritesOneSocketWritePerWrite(t *testing.T) {
	serverCreds, clientCreds := testTLS(t)
	payload := make([]byte, 1<<20+3)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	for _, tc := range []struct {
		name    string
		batched bool
	}{{"plain tls", false}, {"batched", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := serverCreds, clientCreds
			if tc.batched {
				s, c = BatchWrites(s), BatchWrites(c)
			}
			cli, srv, socket := handshakePair(t, s, c)
			got := make(chan []byte, 1)
			go func() {
				b := make([]byte, len(payload))
				_, err := io.ReadFull(srv, b)
				if err != nil {
					b = nil
				}
				got <- b
			}()
			before := socket.writes.Load()
			n, err := cli.Write(payload)
			require.NoError(t, err)
			require.Equal(t, len(payload), n)
			require.True(t, bytes.Equal(payload, <-got), "the peer reads what was written")
			writes := socket.writes.Load() - before
			if tc.batched {
				require.EqualValues(t, 1, writes)
			} else {
				// crypto/tls writes a record (at most 16 KiB) at a
				// time: what BatchWrites exists to avoid.
				require.GreaterOrEqual(t, writes, int64(64))
			}
		})
	}
}

// Concurrent writers each see their bytes arrive whole and in one piece:
// gathering keeps crypto/tls's order.
func TestBatchWritesConcurrentWriters(t *testing.T) {
	serverCreds, clientCreds := testTLS(t)
	cli, srv, _ := handshakePair(t, BatchWrites(serverCreds), BatchWrites(clientCreds))
	const writers, per, size = 4, 20, 40 << 10
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, writers*per*size)
		if _, err := io.ReadFull(srv, b); err != nil {
			b = nil
		}
		got <- b
	}()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			msg := bytes.Repeat([]byte{byte('a' + w)}, size)
			for range per {
				if _, err := cli.Write(msg); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	stream := <-got
	require.Len(t, stream, writers*per*size)
	counts := map[byte]int{}
	for off := 0; off < len(stream); off += size {
		block := stream[off : off+size]
		require.Equal(t, bytes.Repeat(block[:1], size), block, "a write at offset %d was split or interleaved", off)
		counts[block[0]]++
	}
	for w := range writers {
		require.Equal(t, per, counts[byte('a'+w)])
	}
}

func TestBatchWritesLeavesInsecureAlone(t *testing.T) {
	in := insecure.NewCredentials()
	require.Equal(t, in, BatchWrites(in))
	require.Nil(t, BatchWrites(nil))
	_, c := testTLS(t)
	once := BatchWrites(c)
	require.Equal(t, once, BatchWrites(once), "wrapping twice changes nothing")
	require.Equal(t, "tls", once.Clone().Info().SecurityProtocol)
}

// A gRPC call works over batched credentials on both ends.
func TestBatchWritesGRPC(t *testing.T) {
	serverCreds, clientCreds := testTLS(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(grpc.Creds(BatchWrites(serverCreds)))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	port := lis.Addr().(*net.TCPAddr).Port
	cc, err := New(Config{Creds: clientCreds}).GRPC(net.JoinHostPort("localhost", strconv.Itoa(port)))
	require.NoError(t, err)
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	require.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus())
}
