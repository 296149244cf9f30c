package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpccreds "google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/devcluster"
	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/node/pki"
	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// tlsIdentity is a certificate issued by the test from the cluster CA,
// written to files.
type tlsIdentity struct {
	files pki.Files
	r     *pki.Reloader
}

func issueIdentity(t *testing.T, c *cluster, node string, roles ...string) tlsIdentity {
	t.Helper()
	certs := c.procs.Certs()
	require.NotNil(t, certs, "the cluster runs without certificates")
	ca, err := certs.CA()
	require.NoError(t, err)
	cert, key, err := ca.Issue(pki.Identity{NodeID: node, Roles: roles}, []string{"127.0.0.1"}, time.Now(), time.Hour)
	require.NoError(t, err)
	dir := t.TempDir()
	f := pki.Files{CA: certs.Files(devcluster.AdminCert).CA, Cert: filepath.Join(dir, node+".pem"), Key: filepath.Join(dir, node+".key")}
	require.NoError(t, os.WriteFile(f.Cert, cert, 0o600))
	require.NoError(t, os.WriteFile(f.Key, key, 0o600))
	r, err := pki.NewReloader(f)
	require.NoError(t, err)
	return tlsIdentity{files: f, r: r}
}

func (id tlsIdentity) env() []string {
	return []string{"CAIRN_TLS_CA=" + id.files.CA, "CAIRN_TLS_CERT=" + id.files.Cert, "CAIRN_TLS_KEY=" + id.files.Key}
}

func (id tlsIdentity) dialer() *dial.Dialer {
	return dial.New(dial.Config{Creds: grpccreds.NewTLS(id.r.ClientConfig())})
}

// noCertDialer speaks TLS but presents no certificate.
func noCertDialer() *dial.Dialer {
	return dial.New(dial.Config{Creds: grpccreds.NewTLS(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})})
}

func grpcConn(t *testing.T, d *dial.Dialer, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := d.GRPC(addr)
	require.NoError(t, err)
	t.Cleanup(func() { cc.Close() })
	return cc
}

// readShard reads a (nonexistent) shard and returns the call's error.
func readShard(ctx context.Context, cc *grpc.ClientConn) error {
	st, err := storagepb.NewStorageClient(cc).ReadShard(ctx, &storagepb.ReadShardRequest{Ref: &storagepb.ShardRef{DriveId: "d", ShardId: "no-such-shard"}})
	if err != nil {
		return err
	}
	_, err = st.Recv()
	return err
}

func deleteShard(ctx context.Context, cc *grpc.ClientConn) error {
	_, err := storagepb.NewStorageClient(cc).DeleteShard(ctx, &storagepb.DeleteShardRequest{Ref: &storagepb.ShardRef{DriveId: "d", ShardId: "no-such-shard"}})
	return err
}

func proposeDeleteUser(ctx context.Context, cc *grpc.ClientConn) error {
	_, err := metapb.NewMetaClient(cc).Propose(ctx, &metapb.ProposeRequest{Command: &metapb.Command{Op: &metapb.Command_DeleteUser{DeleteUser: &metapb.DeleteUser{AccessKey: "NO-SUCH-USER"}}}})
	return err
}

func proposeCreateBucket(ctx context.Context, cc *grpc.ClientConn) error {
	_, err := metapb.NewMetaClient(cc).Propose(ctx, &metapb.ProposeRequest{Command: &metapb.Command{Op: &metapb.Command_CreateBucket{CreateBucket: &metapb.CreateBucket{Bucket: &metapb.Bucket{Name: "rogue-bucket"}}}}})
	return err
}

// authRefused reports whether err is a refusal of the caller (no or a
// wrong certificate), rather than an answer to the request.
func authRefused(err error) bool {
	switch status.Code(err) {
	case codes.Unauthenticated, codes.PermissionDenied, codes.Unavailable:
		return true
	}
	return false
}

// raftStream dials the Raft port with a caller-chosen connection, to
// speak raft's protocol as an intruder would.
type raftStream struct {
	net.Listener
	dial func(addr string) (net.Conn, error)
}

func (s raftStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return s.dial(string(addr))
}

// raftAppend sends one AppendEntries to addr over connections from dialFn.
func raftAppend(t *testing.T, addr string, dialFn func(addr string) (net.Conn, error)) error {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	trans := raft.NewNetworkTransport(raftStream{Listener: lis, dial: dialFn}, 1, 5*time.Second, io.Discard)
	defer trans.Close()
	var resp raft.AppendEntriesResponse
	return trans.AppendEntries("intruder", raft.ServerAddress(addr), &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("intruder"), Addr: []byte(lis.Addr().String())},
		Term:      0,
	}, &resp)
}

func tlsDialer(cfg *tls.Config) func(addr string) (net.Conn, error) {
	return func(addr string) (net.Conn, error) {
		d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: cfg}
		return d.Dial("tcp", addr)
	}
}

// TestTLSCluster runs a cluster with mutual TLS between every process and
// S3 over HTTPS, and attacks it as a client without a certificate, with
// a certificate of the wrong role, and as a node claiming another's ID.
func TestTLSCluster(t *testing.T) {
	c := startClusterOpts(t, devcluster.Spec{}, devcluster.Options{S3TLS: true})
	ctx := ctxT(t, 5*time.Minute)
	metaP, _ := c.layout.Proc(c.layout.Names("meta")[0])
	storP, _ := c.layout.Proc(c.layout.Names("storage")[0])

	t.Run("unauthenticated calls are refused", func(t *testing.T) {
		calls := []struct {
			name string
			addr string
			call func(context.Context, *grpc.ClientConn) error
		}{
			{"ReadShard", storP.GRPCAddr, readShard},
			{"DeleteShard", storP.GRPCAddr, deleteShard},
			{"Propose", metaP.GRPCAddr, proposeDeleteUser},
		}
		dialers := []struct {
			name string
			d    *dial.Dialer
		}{
			{"plaintext", dial.Default()},
			{"TLS without a certificate", noCertDialer()},
		}
		for _, call := range calls {
			for _, d := range dialers {
				t.Run(call.name+"/"+d.name, func(t *testing.T) {
					cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					defer cancel()
					err := call.call(cctx, grpcConn(t, d.d, call.addr))
					require.Error(t, err)
					require.True(t, authRefused(err), "%v", err)
				})
			}
			// The same call with a certificate that may make it reaches
			// the service: the refusals above are about the caller.
			t.Run(call.name+"/all roles", func(t *testing.T) {
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				err := call.call(cctx, grpcConn(t, c.procs.Dialer(), call.addr))
				require.False(t, authRefused(err), "%v", err)
			})
		}
	})

	t.Run("raft append without a meta certificate is refused", func(t *testing.T) {
		gw := issueIdentity(t, c, "gw-intruder", pki.RoleGateway)
		gwCfg := gw.r.ClientConfig(pki.RoleMeta)
		tests := []struct {
			name string
			dial func(string) (net.Conn, error)
		}{
			{"plain TCP", func(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }},
			{"TLS without a certificate", tlsDialer(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})},
			{"gateway certificate", tlsDialer(gwCfg)},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				require.Error(t, raftAppend(t, metaP.RaftAddr, tc.dial))
			})
		}
		// A meta certificate gets an answer (a stale term, so the voter
		// only replies): the refusals above are about the caller.
		all := issueIdentity(t, c, "meta-probe", pki.RoleMeta)
		require.NoError(t, raftAppend(t, metaP.RaftAddr, tlsDialer(all.r.ClientConfig(pki.RoleMeta))))
	})

	t.Run("wrong roles are refused", func(t *testing.T) {
		gw := issueIdentity(t, c, "gw-x", pki.RoleGateway)
		st := issueIdentity(t, c, storP.NodeID, pki.RoleStorage)
		adm := issueIdentity(t, c, "admin-x", pki.RoleAdmin)
		other := c.layout.Names("storage")[1]
		tests := []struct {
			name string
			call func(context.Context) error
		}{
			{"gateway proposes DeleteUser", func(ctx context.Context) error {
				return proposeDeleteUser(ctx, grpcConn(t, gw.dialer(), metaP.GRPCAddr))
			}},
			{"storage proposes CreateBucket", func(ctx context.Context) error {
				return proposeCreateBucket(ctx, grpcConn(t, st.dialer(), metaP.GRPCAddr))
			}},
			{"storage heartbeats as another node", func(ctx context.Context) error {
				_, err := metapb.NewMetaClient(grpcConn(t, st.dialer(), metaP.GRPCAddr)).Heartbeat(ctx,
					&metapb.HeartbeatRequest{Node: &metapb.Node{NodeId: other, Addr: storP.GRPCAddr}})
				return err
			}},
			{"admin reads a shard", func(ctx context.Context) error {
				return readShard(ctx, grpcConn(t, adm.dialer(), storP.GRPCAddr))
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				err := tc.call(cctx)
				require.Equal(t, codes.PermissionDenied, status.Code(err), "%v", err)
			})
		}
	})

	t.Run("a node cannot take another's ID", func(t *testing.T) {
		// A certificate for storage-1 does not start a process as
		// storage-2.
		st := issueIdentity(t, c, storP.NodeID, pki.RoleStorage)
		other := c.layout.Names("storage")[1]
		out, err := runCairnClean(t, ctx, st.env(), "server", "--roles", "storage", "--node-id", other,
			"--data-dir", t.TempDir(), "--grpc-addr", freeAddr(t), "--meta-addrs", strings.Join(c.layout.MetaAddrs(), ","))
		require.Error(t, err)
		require.Contains(t, out, "is not the certificate's")

		// Without a certificate a storage node cannot join: its
		// heartbeats fail and the map never lists it.
		logPath := filepath.Join(t.TempDir(), "rogue.log")
		stop := startCairn(t, logPath, nil, "server", "--roles", "storage", "--node-id", "storage-rogue", "--insecure-internal",
			"--cluster-id", c.layout.ClusterID, "--format-drives",
			"--data-dir", t.TempDir(), "--grpc-addr", freeAddr(t), "--meta-addrs", strings.Join(c.layout.MetaAddrs(), ","))
		defer stop()
		waitLog(t, logPath, "heartbeat failed on every meta address", 60*time.Second)
		resp, err := metapb.NewMetaClient(grpcConn(t, c.procs.Dialer(), metaP.GRPCAddr)).GetClusterMap(ctx, &metapb.GetClusterMapRequest{})
		require.NoError(t, err)
		for _, n := range resp.GetMap().GetNodes() {
			require.NotEqual(t, "storage-rogue", n.GetNodeId())
		}
	})

	t.Run("admin commands need the admin certificate", func(t *testing.T) {
		certs := c.procs.Certs()
		metaEnv := "CAIRN_META_ADDRS=" + strings.Join(c.layout.MetaAddrs(), ",")
		out, err := runCairnClean(t, ctx, append(certs.Env(devcluster.AdminCert), metaEnv, "CAIRN_TIMEOUT=10s"), "admin", "user", "list")
		require.NoError(t, err, out)
		require.Contains(t, out, "ACCESS KEY")
		// Plaintext against the mTLS cluster fails.
		_, err = runCairnClean(t, ctx, []string{metaEnv, "CAIRN_INSECURE_INTERNAL=true", "CAIRN_TIMEOUT=5s"}, "admin", "user", "list")
		require.Error(t, err)
		// A gateway certificate may not create users.
		gw := issueIdentity(t, c, "gw-admin", pki.RoleGateway)
		out, err = runCairnClean(t, ctx, append(gw.env(), metaEnv, "CAIRN_MASTER_KEY="+testMasterKey, "CAIRN_TIMEOUT=10s"), "admin", "user", "create", "--name", "eve")
		require.Error(t, err)
		require.Contains(t, out, "PermissionDenied")
	})

	t.Run("S3 over TLS with the SDK", func(t *testing.T) {
		c.mustCreateBucket(ctx, "tls")
		// Over 16 MiB: over HTTPS the SDK sends a seekable body as one
		// unsigned aws-chunked chunk.
		data := body(7, 17<<20+3)
		require.NoError(t, c.put(ctx, "tls", "obj", data))
		got, err := c.get(ctx, "tls", "obj")
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, got))
		_, err = c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("tls"), Key: aws.String("obj")})
		require.NoError(t, err)
		// No plaintext S3 on the HTTPS port.
		resp, err := http.Get("http://" + c.layout.S3Addr() + "/")
		if err == nil {
			resp.Body.Close()
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		}
	})

	t.Run("the S3 certificate reloads without dropping connections", func(t *testing.T) {
		certs := c.procs.Certs()
		tc, err := certs.S3TLSConfig()
		require.NoError(t, err)
		serial := func() *big.Int {
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", c.layout.S3Addr(), tc)
			require.NoError(t, err)
			defer conn.Close()
			return conn.ConnectionState().PeerCertificates[0].SerialNumber
		}
		old := serial()
		// A keep-alive connection opened before the rotation.
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, MaxConnsPerHost: 1}}
		defer client.CloseIdleConnections()
		get := func() (*x509.Certificate, error) {
			resp, err := client.Get("https://" + c.layout.S3Addr() + "/")
			if err != nil {
				return nil, err
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
			return resp.TLS.PeerCertificates[0], nil
		}
		cert, err := get()
		require.NoError(t, err)
		require.Equal(t, old, cert.SerialNumber)

		// Rotate: a new certificate for the same identity, written over
		// the files the gateway serves, then SIGHUP.
		gwProc, _ := c.layout.Proc("gateway")
		ca, err := certs.CA()
		require.NoError(t, err)
		newCert, newKey, err := ca.Issue(pki.Identity{NodeID: "gateway", Roles: gwProc.Roles}, []string{"127.0.0.1", "localhost"}, time.Now(), time.Hour)
		require.NoError(t, err)
		f := certs.Files("gateway")
		replaceFile(t, f.Key, newKey)
		replaceFile(t, f.Cert, newCert)
		require.NoError(t, c.procs.Signal("gateway", syscall.SIGHUP))
		leaf, err := pki.NewReloader(pki.Files{Cert: f.Cert, Key: f.Key})
		require.NoError(t, err)
		want := leaf.Leaf().SerialNumber
		require.NotEqual(t, old, want)
		deadline := time.Now().Add(20 * time.Second)
		for serial().Cmp(want) != 0 {
			require.True(t, time.Now().Before(deadline), "a new connection still sees the old certificate")
			time.Sleep(100 * time.Millisecond)
		}
		// The old connection still works, with the old certificate.
		cert, err = get()
		require.NoError(t, err)
		require.Equal(t, old, cert.SerialNumber)
		// And the gateway still talks to the cluster with its new
		// certificate.
		got, err := c.get(ctx, "tls", "obj")
		require.NoError(t, err)
		require.Len(t, got, 17<<20+3)
		require.True(t, c.procs.Running("gateway"), "SIGHUP must not stop the server")
	})
}

// TestTLSServerRefusesPlaintextByDefault: without certificates and without
// --insecure-internal a server does not start, and says how to fix it.
func TestTLSServerRefusesPlaintextByDefault(t *testing.T) {
	ctx := ctxT(t, time.Minute)
	out, err := runCairnClean(t, ctx, nil, "server", "--roles", "storage", "--node-id", "s1",
		"--data-dir", t.TempDir(), "--grpc-addr", freeAddr(t), "--meta-addrs", "127.0.0.1:1")
	require.Error(t, err)
	require.Contains(t, out, "--tls-ca")
	require.Contains(t, out, "--insecure-internal")
}

// cairnEnv is the test's environment without CAIRN_ variables, plus env.
func cairnEnv(env []string) []string {
	out := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "CAIRN_") })
	return append(out, env...)
}

// runCairnClean runs the binary to completion, without the CAIRN_
// variables of the test's environment, and returns its combined output.
func runCairnClean(t *testing.T, ctx context.Context, env []string, args ...string) (string, error) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, cairnBin, args...)
	cmd.Env = cairnEnv(env)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// startCairn starts the binary in the background, logging to logPath; the
// returned stop ends it (also at cleanup).
func startCairn(t *testing.T, logPath string, env []string, args ...string) (stop func()) {
	t.Helper()
	logf, err := os.Create(logPath)
	require.NoError(t, err)
	cmd := exec.Command(cairnBin, args...)
	cmd.Env = cairnEnv(env)
	cmd.Stdout, cmd.Stderr = logf, logf
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	t.Cleanup(stop)
	return stop
}

// waitLog waits until the file contains s.
func waitLog(t *testing.T, path, s string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, []byte(s)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never logged %q; log:\n%s", filepath.Base(path), s, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer lis.Close()
	return lis.Addr().String()
}

// replaceFile writes path atomically, as a certificate rotation should.
func replaceFile(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, b, 0o600))
	require.NoError(t, os.Rename(tmp, path))
}
