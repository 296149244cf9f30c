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

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/proto/metapb"
)

// fakeMeta is the one in-memory Meta of the gateway's tests: enough of
// the FSM's behaviour (buckets, current versions, bucket and object
// updates, users) for the handlers. Tests that need the FSM's own rules
// (versions, multipart, Object Lock) use the real state machine through
// NewMetaClient instead.
type fakeMeta struct {
	mu struct {
		sync.Mutex
		buckets map[string]*metapb.Bucket
		objects map[string]map[string]*metapb.ObjectVersion
		users   map[string]*metapb.User
		seq     uint64
		// failPut, when set, answers the next Propose of a PutObject.
		failPut error
		puts    int
	}
}

var errFakeUnimplemented = errors.New("fake meta: unimplemented")

func newFakeMeta() *fakeMeta {
	m := &fakeMeta{}
	m.mu.buckets = map[string]*metapb.Bucket{}
	m.mu.objects = map[string]map[string]*metapb.ObjectVersion{}
	m.mu.users = map[string]*metapb.User{}
	return m
}

var _ Meta = (*fakeMeta)(nil)

// failNextPut makes the next PutObject proposal fail with err.
func (m *fakeMeta) failNextPut(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.failPut = err
}

func (m *fakeMeta) addBucket(name, owner string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.buckets[name] = &metapb.Bucket{Name: name, Owner: owner}
	m.mu.objects[name] = map[string]*metapb.ObjectVersion{}
}

func (m *fakeMeta) addUsers(users map[string]*metapb.User) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, u := range users {
		m.mu.users[k] = u
	}
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

// result answers a proposal as the adapter does: a non-OK code comes back
// as an *s3err.MetaError with the result.
func result(code metapb.ErrorCode, v *metapb.ObjectVersion) (*metapb.CommandResult, error) {
	res := &metapb.CommandResult{Code: code, Version: v}
	return res, codeError(code, "")
}

// copyFields copies the named fields of from into to, as the FSM's update
// commands do; ok is false for a name the record does not have.
func copyFields(to, from proto.Message, names []string) bool {
	dst, src := to.ProtoReflect(), from.ProtoReflect()
	for _, name := range names {
		fd := dst.Descriptor().Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			return false
		}
		if src.Has(fd) {
			dst.Set(fd, src.Get(fd))
		} else {
			dst.Clear(fd)
		}
	}
	return true
}

func (m *fakeMeta) Propose(_ context.Context, cmd *metapb.Command) (*metapb.CommandResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch op := cmd.GetOp().(type) {
	case *metapb.Command_CreateBucket:
		b := op.CreateBucket.GetBucket()
		if _, ok := m.mu.buckets[b.GetName()]; ok {
			return result(metapb.ErrorCode_BUCKET_ALREADY_EXISTS, nil)
		}
		m.mu.buckets[b.GetName()] = proto.Clone(b).(*metapb.Bucket)
		m.mu.objects[b.GetName()] = map[string]*metapb.ObjectVersion{}
		return result(metapb.ErrorCode_OK, nil)
	case *metapb.Command_DeleteBucket:
		name := op.DeleteBucket.GetName()
		if _, ok := m.mu.buckets[name]; !ok {
			return result(metapb.ErrorCode_NO_SUCH_BUCKET, nil)
		}
		if len(m.mu.objects[name]) > 0 {
			return result(metapb.ErrorCode_BUCKET_NOT_EMPTY, nil)
		}
		delete(m.mu.buckets, name)
		delete(m.mu.objects, name)
		return result(metapb.ErrorCode_OK, nil)
	case *metapb.Command_UpdateBucket:
		u := op.UpdateBucket
		b, ok := m.mu.buckets[u.GetBucket().GetName()]
		if !ok {
			return result(metapb.ErrorCode_NO_SUCH_BUCKET, nil)
		}
		nb := proto.Clone(b).(*metapb.Bucket)
		if !copyFields(nb, u.GetBucket(), u.GetFields()) {
			return result(metapb.ErrorCode_INVALID_ARGUMENT, nil)
		}
		m.mu.buckets[nb.GetName()] = nb
		return result(metapb.ErrorCode_OK, nil)
	case *metapb.Command_UpdateObject:
		u := op.UpdateObject
		v, ok := m.mu.objects[u.GetBucket()][u.GetKey()]
		if !ok {
			return result(metapb.ErrorCode_NO_SUCH_KEY, nil)
		}
		if !copyFields(v, u.GetValues(), u.GetFields()) {
			return result(metapb.ErrorCode_INVALID_ARGUMENT, nil)
		}
		return result(metapb.ErrorCode_OK, proto.Clone(v).(*metapb.ObjectVersion))
	case *metapb.Command_PutObject:
		if err := m.mu.failPut; err != nil {
			m.mu.failPut = nil
			return nil, err
		}
		v := proto.Clone(op.PutObject.GetVersion()).(*metapb.ObjectVersion)
		objs, ok := m.mu.objects[v.GetBucket()]
		if !ok {
			return result(metapb.ErrorCode_NO_SUCH_BUCKET, nil)
		}
		if m.mu.buckets[v.GetBucket()].GetVersioning() != metapb.VersioningState_VERSIONING_ENABLED {
			v.VersionId = "null" // as the FSM decides
		}
		m.mu.seq++
		m.mu.puts++
		v.Seq = m.mu.seq
		objs[v.GetKey()] = v
		return result(metapb.ErrorCode_OK, v)
	case *metapb.Command_DeleteObject:
		d := op.DeleteObject
		objs, ok := m.mu.objects[d.GetBucket()]
		if !ok {
			return result(metapb.ErrorCode_NO_SUCH_BUCKET, nil)
		}
		if _, ok := objs[d.GetKey()]; !ok {
			return result(metapb.ErrorCode_NO_SUCH_KEY, nil)
		}
		delete(objs, d.GetKey())
		return result(metapb.ErrorCode_OK, nil)
	}
	return nil, fmt.Errorf("fake meta: command %T: %w", cmd.GetOp(), errFakeUnimplemented)
}

func (m *fakeMeta) Bucket(_ context.Context, name string) (*metapb.Bucket, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.mu.buckets[name]
	if !ok {
		return nil, codeError(metapb.ErrorCode_NO_SUCH_BUCKET, "")
	}
	return proto.Clone(b).(*metapb.Bucket), nil
}

func (m *fakeMeta) Buckets(context.Context) ([]*metapb.Bucket, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*metapb.Bucket
	for _, b := range m.mu.buckets {
		out = append(out, proto.Clone(b).(*metapb.Bucket))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

func (m *fakeMeta) Object(_ context.Context, bucket, key, versionID string) (*metapb.ObjectVersion, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	objs, ok := m.mu.objects[bucket]
	if !ok {
		return nil, codeError(metapb.ErrorCode_NO_SUCH_BUCKET, "")
	}
	v, ok := objs[key]
	if !ok {
		return nil, codeError(metapb.ErrorCode_NO_SUCH_KEY, "")
	}
	if versionID != "" && versionID != v.GetVersionId() {
		return nil, codeError(metapb.ErrorCode_NO_SUCH_VERSION, "")
	}
	return proto.Clone(v).(*metapb.ObjectVersion), nil
}

// ListObjects follows the meta contract: keys strictly after start_after,
// and a start_after that is a common prefix skips its whole subtree.
func (m *fakeMeta) ListObjects(_ context.Context, in *metapb.ListObjectsRequest) (*metapb.ListObjectsResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	objs, ok := m.mu.objects[in.GetBucket()]
	if !ok {
		return nil, codeError(metapb.ErrorCode_NO_SUCH_BUCKET, "")
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

func (m *fakeMeta) ListVersions(context.Context, *metapb.ListObjectVersionsRequest) (*metapb.ListObjectVersionsResponse, error) {
	return nil, fmt.Errorf("fake meta: list versions: %w", errFakeUnimplemented)
}

func (m *fakeMeta) Upload(context.Context, *metapb.GetMultipartUploadRequest) (*metapb.GetMultipartUploadResponse, error) {
	return nil, fmt.Errorf("fake meta: get upload: %w", errFakeUnimplemented)
}

func (m *fakeMeta) ListUploads(context.Context, *metapb.ListMultipartUploadsRequest) (*metapb.ListMultipartUploadsResponse, error) {
	return nil, fmt.Errorf("fake meta: list uploads: %w", errFakeUnimplemented)
}

func (m *fakeMeta) ClusterMap(context.Context) (*metapb.ClusterMap, error) {
	return nil, fmt.Errorf("fake meta: cluster map: %w", errFakeUnimplemented)
}

func (m *fakeMeta) GetUser(_ context.Context, accessKey string) (*metapb.User, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.mu.users[accessKey]
	return u, ok, nil
}

func (m *fakeMeta) ListUsers(context.Context) ([]*metapb.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*metapb.User
	for _, u := range m.mu.users {
		out = append(out, u)
	}
	return out, nil
}

// usersMeta serves a fixed user table in front of another Meta, for the
// tests over the real state machine.
type usersMeta struct {
	Meta
	users map[string]*metapb.User
}

func (m usersMeta) GetUser(_ context.Context, accessKey string) (*metapb.User, bool, error) {
	u, ok := m.users[accessKey]
	return u, ok, nil
}

func (m usersMeta) ListUsers(context.Context) ([]*metapb.User, error) {
	var out []*metapb.User
	for _, u := range m.users {
		out = append(out, u)
	}
	return out, nil
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
		// placeOn, when set, names the node of each shard in turn
		// (cycling); else shard i goes to node n<i>.
		placeOn []string
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
		if p := b.mu.placeOn; len(p) > 0 {
			shards[i].NodeId = p[i%len(p)]
		}
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
