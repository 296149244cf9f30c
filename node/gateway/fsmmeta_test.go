package gateway

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/metadata"
	"github.com/cairn-io/cairn/metadata/metatest"
	"github.com/cairn-io/cairn/proto/metapb"
)

// fsmMeta is a metapb.MetaClient over the real metadata state machine,
// without Raft: commands are applied in order with increasing indexes. It
// lets gateway tests exercise rules that only the FSM enforces (Object
// Lock, conditional updates). RPCs it does not override come from
// metatest on the same state machine. The gateway reaches it through
// NewMetaClient.
type fsmMeta struct {
	*metatest.Client
	f  *metadata.FSM
	mu struct {
		sync.Mutex
		index uint64
	}
}

func newFSMMeta(t *testing.T) *fsmMeta {
	t.Helper()
	c := metatest.New(t)
	return &fsmMeta{Client: c, f: c.FSM}
}

func metaCode(err error) metapb.ErrorCode {
	switch {
	case errors.Is(err, metadata.ErrNoSuchBucket):
		return metapb.ErrorCode_NO_SUCH_BUCKET
	case errors.Is(err, metadata.ErrNoSuchKey):
		return metapb.ErrorCode_NO_SUCH_KEY
	case errors.Is(err, metadata.ErrNoSuchVersion):
		return metapb.ErrorCode_NO_SUCH_VERSION
	}
	return metapb.ErrorCode_OK
}

func (m *fsmMeta) Propose(_ context.Context, in *metapb.ProposeRequest, _ ...grpc.CallOption) (*metapb.ProposeResponse, error) {
	data, err := proto.Marshal(in.GetCommand())
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.index++
	out := m.f.Apply(&raft.Log{Index: m.mu.index, Term: 1, Type: raft.LogCommand, Data: data})
	if err, ok := out.(error); ok {
		return nil, err
	}
	return &metapb.ProposeResponse{Result: out.(*metapb.CommandResult)}, nil
}

func (m *fsmMeta) GetBucket(_ context.Context, in *metapb.GetBucketRequest, _ ...grpc.CallOption) (*metapb.GetBucketResponse, error) {
	b, err := m.f.GetBucket(in.GetName())
	if c := metaCode(err); c != metapb.ErrorCode_OK {
		return &metapb.GetBucketResponse{Code: c}, nil
	}
	return &metapb.GetBucketResponse{Bucket: b}, err
}

func (m *fsmMeta) ListBuckets(context.Context, *metapb.ListBucketsRequest, ...grpc.CallOption) (*metapb.ListBucketsResponse, error) {
	bs, err := m.f.ListBuckets()
	return &metapb.ListBucketsResponse{Buckets: bs}, err
}

func (m *fsmMeta) GetObject(_ context.Context, in *metapb.GetObjectRequest, _ ...grpc.CallOption) (*metapb.GetObjectResponse, error) {
	v, err := m.f.GetObject(in.GetBucket(), in.GetKey(), in.GetVersionId())
	if c := metaCode(err); c != metapb.ErrorCode_OK {
		return &metapb.GetObjectResponse{Code: c}, nil
	}
	return &metapb.GetObjectResponse{Version: v}, err
}

func (m *fsmMeta) ListObjects(_ context.Context, in *metapb.ListObjectsRequest, _ ...grpc.CallOption) (*metapb.ListObjectsResponse, error) {
	resp, err := m.f.ListObjects(in)
	if c := metaCode(err); c != metapb.ErrorCode_OK {
		return &metapb.ListObjectsResponse{Code: c}, nil
	}
	return resp, err
}

// newFSMEnv is a test gateway whose metadata is the real state machine.
func newFSMEnv(t *testing.T, opts envOptions) *testEnv {
	t.Helper()
	fm := newFSMMeta(t)
	inner := opts.config
	opts.config = func(c *Config) {
		c.Meta = NewMetaClient(fm)
		if inner != nil {
			inner(c)
		}
	}
	return newEnv(t, opts)
}
