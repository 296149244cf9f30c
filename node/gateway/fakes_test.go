package gateway

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/proto/metapb"
)

// fakeMeta is an in-memory metapb.MetaClient: enough of the FSM's
// behaviour for the gateway's tests.
type fakeMeta struct {
	mu struct {
		sync.Mutex
		buckets map[string]*metapb.Bucket
		objects map[string]map[string]*metapb.ObjectVersion
		seq     uint64
		// failPut, when set, answers the next Propose of a PutObject.
		failPut func() (*metapb.ProposeResponse, error)
		puts    int
	}
}

func newFakeMeta() *fakeMeta {
	m := &fakeMeta{}
	m.mu.buckets = map[string]*metapb.Bucket{}
	m.mu.objects = map[string]map[string]*metapb.ObjectVersion{}
	return m
}

func (m *fakeMeta) failNextPut(f func() (*metapb.ProposeResponse, error)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.failPut = f
}

func (m *fakeMeta) addBucket(name, owner string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.buckets[name] = &metapb.Bucket{Name: name, Owner: owner}
	m.mu.objects[name] = map[string]*metapb.ObjectVersion{}
}

func (m *fakeMeta) putCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.puts
}

func (m *fakeMeta) object(bucket, key string) *metapb.ObjectVersion {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.objects[bucket][key]
}

func result(code metapb.ErrorCode, v *metapb.ObjectVersion) *metapb.ProposeResponse {
	return &metapb.ProposeResponse{Result: &metapb.CommandResult{Code: code, Version: v}}
}

func (m *fakeMeta) Propose(_ context.Context, in *metapb.ProposeRequest, _ ...grpc.CallOption) (*metapb.ProposeResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch op := in.GetCommand().GetOp().(type) {
	case *metapb.Command_CreateBucket:
		b := op.CreateBucket.GetBucket()
		if _, ok := m.mu.buckets[b.GetName()]; ok {
			return result(metapb.ErrorCode_BUCKET_ALREADY_EXISTS, nil), nil
		}
		m.mu.buckets[b.GetName()] = proto.Clone(b).(*metapb.Bucket)
		m.mu.objects[b.GetName()] = map[string]*metapb.ObjectVersion{}
		return result(metapb.ErrorCode_OK, nil), nil
	case *metapb.Command_DeleteBucket:
		name := op.DeleteBucket.GetName()
		if _, ok := m.mu.buckets[name]; !ok {
			return result(metapb.ErrorCode_NO_SUCH_BUCKET, nil), nil
		}
		if len(m.mu.objects[name]) > 0 {
			return result(metapb.ErrorCode_BUCKET_NOT_EMPTY, nil), nil
		}
		delete(m.mu.buckets, name)
		delete(m.mu.objects, name)
		return result(metapb.ErrorCode_OK, nil), nil
	case *metapb.Command_PutObject:
		if f := m.mu.failPut; f != nil {
			m.mu.failPut = nil
			return f()
		}
		v := proto.Clone(op.PutObject.GetVersion()).(*metapb.ObjectVersion)
		objs, ok := m.mu.objects[v.GetBucket()]
		if !ok {
			return result(metapb.ErrorCode_NO_SUCH_BUCKET, nil), nil
		}
		if m.mu.buckets[v.GetBucket()].GetVersioning() != metapb.VersioningState_VERSIONING_ENABLED {
			v.VersionId = "null" // as the FSM decides
		}
		m.mu.seq++
		m.mu.puts++
		v.Seq = m.mu.seq
		objs[v.GetKey()] = v
		return result(metapb.ErrorCode_OK, v), nil
	case *metapb.Command_DeleteObject:
		d := op.DeleteObject
		objs, ok := m.mu.objects[d.GetBucket()]
		if !ok {
			return result(metapb.ErrorCode_NO_SUCH_BUCKET, nil), nil
		}
		if _, ok := objs[d.GetKey()]; !ok {
			return result(metapb.ErrorCode_NO_SUCH_KEY, nil), nil
		}
		delete(objs, d.GetKey())
		return result(metapb.ErrorCode_OK, nil), nil
	}
	return nil, status.Error(codes.InvalidArgument, "fake meta: unsupported command")
}

func (m *fakeMeta) GetBucket(_ context.Context, in *metapb.GetBucketRequest, _ ...grpc.CallOption) (*metapb.GetBucketResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.mu.buckets[in.GetName()]
	if !ok {
		return &metapb.GetBucketResponse{Code: metapb.ErrorCode_NO_SUCH_BUCKET}, nil
	}
	return &metapb.GetBucketResponse{Bucket: proto.Clone(b).(*metapb.Bucket)}, nil
}

func (m *fakeMeta) ListBuckets(context.Context, *metapb.ListBucketsRequest, ...grpc.CallOption) (*metapb.ListBucketsResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	resp := &metapb.ListBucketsResponse{}
	for _, b := range m.mu.buckets {
		resp.Buckets = append(resp.Buckets, proto.Clone(b).(*metapb.Bucket))
	}
	sort.Slice(resp.Buckets, func(i, j int) bool { return resp.Buckets[i].GetName() < resp.Buckets[j].GetName() })
	return resp, nil
}

func (m *fakeMeta) GetObject(_ context.Context, in *metapb.GetObjectRequest, _ ...grpc.CallOption) (*metapb.GetObjectResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	objs, ok := m.mu.objects[in.GetBucket()]
	if !ok {
		return &metapb.GetObjectResponse{Code: metapb.ErrorCode_NO_SUCH_BUCKET}, nil
	}
	v, ok := objs[in.GetKey()]
	if !ok {
		return &metapb.GetObjectResponse{Code: metapb.ErrorCode_NO_SUCH_KEY}, nil
	}
	if id := in.GetVersionId(); id != "" && id != v.GetVersionId() {
		return &metapb.GetObjectResponse{Code: metapb.ErrorCode_NO_SUCH_VERSION}, nil
	}
	return &metapb.GetObjectResponse{Version: proto.Clone(v).(*metapb.ObjectVersion)}, nil
}

// ListObjects follows the meta contract: keys strictly after start_after,
// and a start_after that is a common prefix skips its whole subtree.
func (m *fakeMeta) ListObjects(_ context.Context, in *metapb.ListObjectsRequest, _ ...grpc.CallOption) (*metapb.ListObjectsResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	objs, ok := m.mu.objects[in.GetBucket()]
	if !ok {
		return &metapb.ListObjectsResponse{Code: metapb.ErrorCode_NO_SUCH_BUCKET}, nil
	}
	keys := make([]string, 0, len(objs))
	for k := range objs {
		if strings.HasPrefix(k, in.GetPrefix()) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	maxKeys := int(in.GetMaxKeys())
	if maxKeys == 0 {
		maxKeys = 1000
	}
	after, delim := in.GetStartAfter(), in.GetDelimiter()
	resp := &metapb.ListObjectsResponse{}
	last := ""
	for _, k := range keys {
		if k <= after || (delim != "" && strings.HasSuffix(after, delim) && strings.HasPrefix(k, after)) {
			continue
		}
		entry, isPrefix := k, false
		if delim != "" {
			if i := strings.Index(k[len(in.GetPrefix()):], delim); i >= 0 {
				entry, isPrefix = k[:len(in.GetPrefix())+i+len(delim)], true
			}
		}
		if entry == last {
			continue
		}
		if len(resp.Objects)+len(resp.CommonPrefixes) == maxKeys {
			resp.Truncated = true
			resp.NextStartAfter = last
			break
		}
		last = entry
		if isPrefix {
			resp.CommonPrefixes = append(resp.CommonPrefixes, entry)
		} else {
			resp.Objects = append(resp.Objects, proto.Clone(objs[k]).(*metapb.ObjectVersion))
		}
	}
	return resp, nil
}

func (m *fakeMeta) GetClusterMap(context.Context, *metapb.GetClusterMapRequest, ...grpc.CallOption) (*metapb.GetClusterMapResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake meta")
}

func (m *fakeMeta) Heartbeat(context.Context, *metapb.HeartbeatRequest, ...grpc.CallOption) (*metapb.HeartbeatResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake meta")
}

func (m *fakeMeta) Status(context.Context, *metapb.StatusRequest, ...grpc.CallOption) (*metapb.StatusResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake meta")
}

// fakeBodies keeps bodies in memory.
type fakeBodies struct {
	mu struct {
		sync.Mutex
		bodies  map[string][]byte
		next    int
		deleted []string
		// readFailAfter, when >= 0, fails reads after that many bytes.
		readFailAfter int64
		writeErr      error
		// writes counts WriteBody calls that returned.
		writes int
	}
}

var errFakeRead = errors.New("fake bodies: read failed")

func newFakeBodies() *fakeBodies {
	b := &fakeBodies{}
	b.mu.bodies = map[string][]byte{}
	b.mu.readFailAfter = -1
	return b
}

func (b *fakeBodies) failReadsAfter(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.readFailAfter = n
}

func (b *fakeBodies) failWrites(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.writeErr = err
}

func (b *fakeBodies) writeCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.writes
}

// live is the number of stored bodies.
func (b *fakeBodies) live() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.mu.bodies)
}

func (b *fakeBodies) WriteBody(_ context.Context, r io.Reader, opts objio.WriteOptions) (*objio.Body, error) {
	defer func() {
		b.mu.Lock()
		b.mu.writes++
		b.mu.Unlock()
	}()
	b.mu.Lock()
	werr := b.mu.writeErr
	b.mu.Unlock()
	if werr != nil {
		return nil, fmt.Errorf("fake bodies: %w", werr)
	}
	// Like the real store, read to EOF whatever Size says.
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("fake bodies: read: %w", err)
	}
	sum := md5.Sum(data)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.next++
	id := fmt.Sprintf("data-%d", b.mu.next)
	b.mu.bodies[id] = data
	shards := make([]*metapb.ShardPlacement, opts.Profile.K+opts.Profile.M)
	for i := range shards {
		shards[i] = &metapb.ShardPlacement{NodeId: fmt.Sprintf("n%d", i), DriveId: "d0"}
	}
	return &objio.Body{DataID: id, Size: int64(len(data)), MD5: sum[:], Profile: opts.Profile, Shards: shards}, nil
}

func (b *fakeBodies) DeleteBody(_ context.Context, dataID string, _ []*metapb.ShardPlacement) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.mu.bodies, dataID)
	b.mu.deleted = append(b.mu.deleted, dataID)
	return nil
}

func (b *fakeBodies) ReadBody(_ context.Context, v *metapb.ObjectVersion, off, length int64, w io.Writer) error {
	b.mu.Lock()
	data, ok := b.mu.bodies[v.GetDataId()]
	failAfter := b.mu.readFailAfter
	b.mu.Unlock()
	if !ok {
		return fmt.Errorf("fake bodies: %s: %w", v.GetDataId(), objio.ErrDataUnavailable)
	}
	part := data[off : off+length]
	if failAfter >= 0 {
		n := min(failAfter, int64(len(part)))
		if _, err := w.Write(part[:n]); err != nil {
			return err
		}
		return fmt.Errorf("fake bodies: %w", errFakeRead)
	}
	_, err := io.Copy(w, bytes.NewReader(part))
	return err
}

var testProfile = erasure.Profile{K: 4, M: 2, BlockSize: 64 << 10}

func (m *fakeMeta) ListObjectVersions(context.Context, *metapb.ListObjectVersionsRequest, ...grpc.CallOption) (*metapb.ListObjectVersionsResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake meta: ListObjectVersions")
}

func (m *fakeMeta) GetUser(context.Context, *metapb.GetUserRequest, ...grpc.CallOption) (*metapb.GetUserResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake meta: GetUser")
}

func (m *fakeMeta) ListUsers(context.Context, *metapb.ListUsersRequest, ...grpc.CallOption) (*metapb.ListUsersResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake meta: ListUsers")
}

func (m *fakeMeta) GetMultipartUpload(context.Context, *metapb.GetMultipartUploadRequest, ...grpc.CallOption) (*metapb.GetMultipartUploadResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake meta: GetMultipartUpload")
}

func (m *fakeMeta) ListMultipartUploads(context.Context, *metapb.ListMultipartUploadsRequest, ...grpc.CallOption) (*metapb.ListMultipartUploadsResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake meta: ListMultipartUploads")
}

func (m *fakeMeta) UnknownData(context.Context, *metapb.UnknownDataRequest, ...grpc.CallOption) (*metapb.UnknownDataResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake meta: UnknownData")
}

func (m *fakeMeta) ReportShards(context.Context, *metapb.ReportShardsRequest, ...grpc.CallOption) (*metapb.ReportShardsResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake meta: ReportShards")
}

func (m *fakeMeta) HealStatus(context.Context, *metapb.HealStatusRequest, ...grpc.CallOption) (*metapb.HealStatusResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake meta: HealStatus")
}

func (m *fakeMeta) Scrub(context.Context, *metapb.ScrubRequest, ...grpc.CallOption) (*metapb.ScrubResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake meta: Scrub")
}

func (m *fakeMeta) AddVoter(context.Context, *metapb.AddVoterRequest, ...grpc.CallOption) (*metapb.AddVoterResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake meta: AddVoter")
}

func (m *fakeMeta) RemoveVoter(context.Context, *metapb.RemoveVoterRequest, ...grpc.CallOption) (*metapb.RemoveVoterResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake meta: RemoveVoter")
}

func (m *fakeMeta) TransferLeader(context.Context, *metapb.TransferLeaderRequest, ...grpc.CallOption) (*metapb.TransferLeaderResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake meta: TransferLeader")
}

func (m *fakeMeta) Backup(context.Context, *metapb.BackupRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[metapb.BackupChunk], error) {
	return nil, status.Error(codes.Unimplemented, "fake meta: Backup")
}

func (m *fakeMeta) MembershipStatus(context.Context, *metapb.MembershipStatusRequest, ...grpc.CallOption) (*metapb.MembershipStatusResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake meta: MembershipStatus")
}

func (m *fakeMeta) RemoveNode(context.Context, *metapb.RemoveNodeRequest, ...grpc.CallOption) (*metapb.RemoveNodeResponse, error) {
	return nil, status.Error(codes.Unimplemented, "fake meta: RemoveNode")
}

func (m *fakeMeta) WatchBuckets(context.Context, *metapb.WatchBucketsRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[metapb.BucketsEvent], error) {
	return nil, status.Error(codes.Unimplemented, "fake meta: WatchBuckets")
}

func (m *fakeMeta) WatchClusterMap(context.Context, *metapb.WatchClusterMapRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[metapb.ClusterMapEvent], error) {
	return nil, status.Error(codes.Unimplemented, "fake meta: WatchClusterMap")
}
