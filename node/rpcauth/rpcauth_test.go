package rpcauth_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/pki"
	"github.com/cairn-io/cairn/node/rpcauth"
	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

func id(node string, roles ...string) pki.Identity {
	return pki.Identity{ClusterID: "c", NodeID: node, Roles: roles}
}

func propose(cmd *metapb.Command) *metapb.ProposeRequest { return &metapb.ProposeRequest{Command: cmd} }

func TestAuthorize(t *testing.T) {
	const (
		readShard   = "/cairn.storage.v1.Storage/ReadShard"
		deleteShard = "/cairn.storage.v1.Storage/DeleteShard"
		listShards  = "/cairn.storage.v1.Storage/ListShards"
		proposeM    = "/cairn.meta.v1.Meta/Propose"
		heartbeat   = "/cairn.meta.v1.Meta/Heartbeat"
		report      = "/cairn.meta.v1.Meta/ReportShards"
	)
	deleteUser := propose(&metapb.Command{Op: &metapb.Command_DeleteUser{DeleteUser: &metapb.DeleteUser{}}})
	putObject := propose(&metapb.Command{Op: &metapb.Command_PutObject{PutObject: &metapb.PutObject{}}})
	updateBucket := propose(&metapb.Command{Op: &metapb.Command_UpdateBucket{UpdateBucket: &metapb.UpdateBucket{}}})
	ackGC := propose(&metapb.Command{Op: &metapb.Command_AckGc{AckGc: &metapb.AckGC{}}})
	repair := propose(&metapb.Command{Op: &metapb.Command_RepairShards{RepairShards: &metapb.RepairShards{}}})
	hb := func(node string) *metapb.HeartbeatRequest {
		return &metapb.HeartbeatRequest{Node: &metapb.Node{NodeId: node}}
	}
	rep := func(node string) *metapb.ReportShardsRequest {
		return &metapb.ReportShardsRequest{Shards: []*metapb.ShardReport{{NodeId: node}}}
	}
	cases := []struct {
		name   string
		caller pki.Identity
		method string
		req    any
		ok     bool
	}{
		{"gateway reads a shard", id("g", "gateway"), readShard, nil, true},
		{"meta reads a shard (repair)", id("m", "meta"), readShard, nil, true},
		{"storage cannot read another's shard", id("s", "storage"), readShard, nil, false},
		{"admin cannot read shards", id("a", "admin"), readShard, nil, false},
		{"storage cannot delete shards", id("s", "storage"), deleteShard, nil, false},
		{"gateway cannot list shards", id("g", "gateway"), listShards, nil, false},
		{"gateway puts an object", id("g", "gateway"), proposeM, putObject, true},
		{"gateway updates a bucket", id("g", "gateway"), proposeM, updateBucket, true},
		{"gateway cannot delete a user", id("g", "gateway"), proposeM, deleteUser, false},
		{"storage cannot propose", id("s", "storage"), proposeM, putObject, false},
		{"storage cannot delete a user", id("s", "storage"), proposeM, deleteUser, false},
		{"admin deletes a user", id("a", "admin"), proposeM, deleteUser, true},
		{"admin cannot put objects", id("a", "admin"), proposeM, putObject, false},
		{"gateway cannot ack GC", id("g", "gateway"), proposeM, ackGC, false},
		{"gateway cannot commit repairs", id("g", "gateway"), proposeM, repair, false},
		{"meta forwards anything", id("m", "meta"), proposeM, repair, true},
		{"storage heartbeats as itself", id("s1", "storage"), heartbeat, hb("s1"), true},
		{"storage cannot heartbeat as another", id("s1", "storage"), heartbeat, hb("s2"), false},
		{"meta forwards heartbeats", id("m", "meta"), heartbeat, hb("s2"), true},
		{"gateway cannot heartbeat", id("g", "gateway"), heartbeat, hb("g"), false},
		{"storage reports its own shards", id("s1", "storage"), report, rep("s1"), true},
		{"storage cannot report another's", id("s1", "storage"), report, rep("s2"), false},
		{"gateway reports what its reads saw", id("g", "gateway"), report, rep("s2"), true},
		{"unknown method", id("m", "meta", "storage", "gateway", "admin"), "/cairn.meta.v1.Meta/Nope", nil, false},
		{"several roles: any may", id("n", "storage", "gateway"), readShard, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := rpcauth.Authorize(tc.caller, tc.method, tc.req)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Equal(t, codes.PermissionDenied, status.Code(err), "err: %v", err)
			}
		})
	}
}

// A new RPC must get a rule: without one every caller is refused.
func TestEveryMethodHasARule(t *testing.T) {
	known := map[string]bool{}
	for _, m := range rpcauth.Methods() {
		known[m] = true
	}
	for _, sd := range []grpc.ServiceDesc{storagepb.Storage_ServiceDesc, metapb.Meta_ServiceDesc} {
		for _, m := range sd.Methods {
			require.True(t, known["/"+sd.ServiceName+"/"+m.MethodName], "no rule for %s/%s", sd.ServiceName, m.MethodName)
		}
		for _, s := range sd.Streams {
			require.True(t, known["/"+sd.ServiceName+"/"+s.StreamName], "no rule for %s/%s", sd.ServiceName, s.StreamName)
		}
	}
}

// metaServer answers Propose and counts the calls that got through.
type metaServer struct {
	metapb.UnimplementedMetaServer
	calls chan pki.Identity
}

func (s *metaServer) Propose(ctx context.Context, _ *metapb.ProposeRequest) (*metapb.ProposeResponse, error) {
	caller, _ := rpcauth.FromContext(ctx)
	s.calls <- caller
	return &metapb.ProposeResponse{}, nil
}

func files(t *testing.T, ca *pki.CA, who pki.Identity) pki.Files {
	t.Helper()
	dir := t.TempDir()
	certPEM, keyPEM, err := ca.Issue(who, []string{"127.0.0.1"}, time.Now(), time.Hour)
	require.NoError(t, err)
	caPEM, _, err := ca.PEM()
	require.NoError(t, err)
	f := pki.Files{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "c.pem"), Key: filepath.Join(dir, "c.key")}
	for p, b := range map[string][]byte{f.CA: caPEM, f.Cert: certPEM, f.Key: keyPEM} {
		require.NoError(t, os.WriteFile(p, b, 0o600))
	}
	return f
}

func TestOverMutualTLS(t *testing.T) {
	ca, err := pki.NewCA("c", time.Now(), time.Hour)
	require.NoError(t, err)
	srvTLS, err := pki.NewReloader(files(t, ca, id("m1", "meta")))
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	opts := append([]grpc.ServerOption{grpc.Creds(credentials.NewTLS(srvTLS.ServerConfig()))}, rpcauth.ServerOptions(true)...)
	srv := grpc.NewServer(opts...)
	ms := &metaServer{calls: make(chan pki.Identity, 4)}
	metapb.RegisterMetaServer(srv, ms)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	call := func(t *testing.T, creds credentials.TransportCredentials, cmd *metapb.Command) error {
		cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(creds))
		require.NoError(t, err)
		defer cc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = metapb.NewMetaClient(cc).Propose(ctx, propose(cmd))
		return err
	}
	put := &metapb.Command{Op: &metapb.Command_PutObject{PutObject: &metapb.PutObject{}}}
	del := &metapb.Command{Op: &metapb.Command_DeleteUser{DeleteUser: &metapb.DeleteUser{}}}

	gw, err := pki.NewReloader(files(t, ca, id("g1", "gateway")))
	require.NoError(t, err)
	require.NoError(t, call(t, credentials.NewTLS(gw.ClientConfig()), put))
	require.Equal(t, "g1", (<-ms.calls).NodeID, "the handler sees the caller's identity")
	require.Equal(t, codes.PermissionDenied, status.Code(call(t, credentials.NewTLS(gw.ClientConfig()), del)))

	st, err := pki.NewReloader(files(t, ca, id("s1", "storage")))
	require.NoError(t, err)
	require.Equal(t, codes.PermissionDenied, status.Code(call(t, credentials.NewTLS(st.ClientConfig()), put)))

	// No client certificate: the handshake itself fails.
	anon := gw.ClientConfig()
	anon.GetClientCertificate = nil
	require.Equal(t, codes.Unavailable, status.Code(call(t, credentials.NewTLS(anon), put)))
	require.Empty(t, ms.calls, "no refused call reached the handler")
}
