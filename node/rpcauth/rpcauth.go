// Package rpcauth decides, on every internal gRPC call, whether the caller
// may make it: the caller's identity (node ID and roles) comes from its
// verified client certificate (package pki), and one table says which roles
// may call which method — and, for Meta.Propose, which command. A storage
// node cannot propose, a gateway cannot delete a user or read the Raft
// log, and a node can heartbeat only under its own ID.
//
// Imports: node/pki, proto/*pb and gRPC; never a role.
package rpcauth

import (
	"context"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/pki"
	"github.com/cairn-io/cairn/proto/metapb"
)

const (
	meta    = pki.RoleMeta
	storage = pki.RoleStorage
	gateway = pki.RoleGateway
	admin   = pki.RoleAdmin
)

var everyone = []string{meta, storage, gateway, admin}

// methods lists, for every internal RPC, the roles that may call it. A
// method absent from the table is refused: a new RPC must be added here
// (TestEveryMethodHasARule enforces it).
var methods = map[string][]string{
	"/cairn.storage.v1.Storage/WriteShard":  {gateway, meta},
	"/cairn.storage.v1.Storage/ReadShard":   {gateway, meta},
	"/cairn.storage.v1.Storage/DeleteShard": {gateway, meta},
	"/cairn.storage.v1.Storage/StatShard":   {gateway, meta},
	"/cairn.storage.v1.Storage/ListShards":  {meta},
	"/cairn.storage.v1.Storage/VerifyShard": {meta},
	"/cairn.storage.v1.Storage/Scrub":       {meta, admin},

	"/cairn.meta.v1.Meta/Propose":              {gateway, meta, admin}, // and see commands
	"/cairn.meta.v1.Meta/GetBucket":            {gateway, meta, admin},
	"/cairn.meta.v1.Meta/ListBuckets":          {gateway, meta, admin},
	"/cairn.meta.v1.Meta/GetObject":            {gateway, meta, admin},
	"/cairn.meta.v1.Meta/ListObjects":          {gateway, meta, admin},
	"/cairn.meta.v1.Meta/ListObjectVersions":   {gateway, meta, admin},
	"/cairn.meta.v1.Meta/GetMultipartUpload":   {gateway, meta, admin},
	"/cairn.meta.v1.Meta/ListMultipartUploads": {gateway, meta, admin},
	"/cairn.meta.v1.Meta/GetClusterMap":        everyone,
	"/cairn.meta.v1.Meta/Heartbeat":            {storage, meta}, // own ID only, see check
	"/cairn.meta.v1.Meta/Status":               everyone,
	"/cairn.meta.v1.Meta/GetUser":              {gateway, meta, admin},
	"/cairn.meta.v1.Meta/ListUsers":            {gateway, meta, admin},
	"/cairn.meta.v1.Meta/UnknownData":          {meta},
	"/cairn.meta.v1.Meta/ReportShards":         {storage, gateway, meta},
	"/cairn.meta.v1.Meta/HealStatus":           {meta, admin},
	"/cairn.meta.v1.Meta/Scrub":                {meta, admin},
	"/cairn.meta.v1.Meta/MembershipStatus":     {meta, admin},
	"/cairn.meta.v1.Meta/RemoveNode":           {meta, admin},
	// metaops: voter changes and backups. Meta too, because followers
	// forward these to the leader.
	"/cairn.meta.v1.Meta/AddVoter":       {admin, meta},
	"/cairn.meta.v1.Meta/RemoveVoter":    {admin, meta},
	"/cairn.meta.v1.Meta/TransferLeader": {admin, meta},
	"/cairn.meta.v1.Meta/Backup":         {admin},
	// perf: the gateway's bucket watch; meta because followers relay the
	// leader's.
	"/cairn.meta.v1.Meta/WatchBuckets": {gateway, meta},

	// perf2
	"/cairn.meta.v1.Meta/WatchClusterMap": everyone,

	"/grpc.health.v1.Health/Check": everyone,
	"/grpc.health.v1.Health/Watch": everyone,
}

// Methods returns the full names of every method the table has a rule for.
func Methods() []string {
	out := make([]string, 0, len(methods))
	for m := range methods {
		out = append(out, m)
	}
	slices.Sort(out)
	return out
}

// commandRoles says which roles may propose each command. Meta nodes
// forward proposals they have already checked, so meta may propose any.
func commandRoles(cmd *metapb.Command) []string {
	switch cmd.GetOp().(type) {
	case *metapb.Command_CreateBucket, *metapb.Command_DeleteBucket,
		*metapb.Command_PutObject, *metapb.Command_DeleteObject,
		*metapb.Command_UpdateBucket, *metapb.Command_UpdateObject,
		*metapb.Command_CreateMultipartUpload, *metapb.Command_PutPart,
		*metapb.Command_CompleteMultipartUpload, *metapb.Command_AbortMultipartUpload:
		return []string{gateway, meta}
	case *metapb.Command_SetMasterKeyCheck:
		// The gateway checks its master key at start, the admin before
		// it seals a user's secret.
		return []string{gateway, admin, meta}
	case *metapb.Command_PutUser, *metapb.Command_DeleteUser,
		*metapb.Command_SetHealPaused, *metapb.Command_SetDriveState,
		*metapb.Command_SetNodeState, *metapb.Command_SetRebalance:
		return []string{admin, meta}
	case *metapb.Command_StartKeyRotation, *metapb.Command_FinishKeyRotation,
		*metapb.Command_RewrapSealed:
		// The master key rotation runs in the admin command, which
		// holds both keys.
		return []string{admin, meta}
	default:
		// Liveness, GC acknowledgements, repairs: the leader's own.
		return []string{meta}
	}
}

type ctxKey struct{}

// FromContext returns the caller's identity, set by the interceptors when
// mutual TLS is on.
func FromContext(ctx context.Context) (pki.Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(pki.Identity)
	return id, ok
}

// identity reads the verified peer certificate of the call.
func identity(ctx context.Context) (pki.Identity, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return pki.Identity{}, status.Error(codes.Unauthenticated, "rpcauth: no peer")
	}
	tlsInfo, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(tlsInfo.State.PeerCertificates) == 0 {
		return pki.Identity{}, status.Error(codes.Unauthenticated, "rpcauth: a client certificate is required")
	}
	id, err := pki.IdentityOf(tlsInfo.State.PeerCertificates[0])
	if err != nil {
		return pki.Identity{}, status.Errorf(codes.Unauthenticated, "rpcauth: %v", err)
	}
	return id, nil
}

// Authorize decides one call: method is the full method name, req the
// request message (nil for streams, whose rules do not look inside).
func Authorize(id pki.Identity, method string, req any) error {
	roles, ok := methods[method]
	if !ok {
		return status.Errorf(codes.PermissionDenied, "rpcauth: %s is not callable by any node", method)
	}
	if !slices.ContainsFunc(roles, id.Has) {
		return status.Errorf(codes.PermissionDenied, "rpcauth: %s may not call %s (allowed: %v)", id, method, roles)
	}
	switch r := req.(type) {
	case *metapb.ProposeRequest:
		if want := commandRoles(r.GetCommand()); !slices.ContainsFunc(want, id.Has) {
			return status.Errorf(codes.PermissionDenied, "rpcauth: %s may not propose %T (allowed: %v)", id, r.GetCommand().GetOp(), want)
		}
	case *metapb.HeartbeatRequest:
		if !id.Has(meta) && r.GetNode().GetNodeId() != id.NodeID {
			return status.Errorf(codes.PermissionDenied, "rpcauth: %s may not heartbeat as node %q", id, r.GetNode().GetNodeId())
		}
	case *metapb.ReportShardsRequest:
		if id.Has(storage) && !id.Has(meta) {
			for _, s := range r.GetShards() {
				if s.GetNodeId() != id.NodeID {
					return status.Errorf(codes.PermissionDenied, "rpcauth: %s may not report shards of node %q", id, s.GetNodeId())
				}
			}
		}
	}
	return nil
}

// ServerOptions returns interceptors that authorize every call. With
// enforce false (plaintext internal traffic, --insecure-internal) every call
// passes and no identity is attached.
func ServerOptions(enforce bool) []grpc.ServerOption {
	if !enforce {
		return nil
	}
	unary := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		id, err := identity(ctx)
		if err != nil {
			return nil, err
		}
		if err := Authorize(id, info.FullMethod, req); err != nil {
			return nil, err
		}
		return h(context.WithValue(ctx, ctxKey{}, id), req)
	}
	stream := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		id, err := identity(ss.Context())
		if err != nil {
			return err
		}
		if err := Authorize(id, info.FullMethod, nil); err != nil {
			return err
		}
		return h(srv, &identified{ServerStream: ss, ctx: context.WithValue(ss.Context(), ctxKey{}, id)})
	}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(unary), grpc.ChainStreamInterceptor(stream)}
}

type identified struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *identified) Context() context.Context { return s.ctx }
