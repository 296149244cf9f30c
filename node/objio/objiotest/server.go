package objiotest

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"net"
	"sort"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/erasure/bitrot"
	"github.com/cairn-io/cairn/placement"
	"github.com/cairn-io/cairn/proto/storagepb"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// readChunk is the most a fake ReadShard message carries.
const readChunk = 256 << 10

type shard struct {
	data      []byte
	size      uint64
	blockSize uint32
	corrupt   map[int64]bool // bitrot block indexes that fail verification
	// digest is computed as a real node does: by framing the data it
	// received (bitrot.Writer), here into nowhere.
	digest []byte
}

// Server is an in-memory storage node on 127.0.0.1 that speaks the real
// Storage gRPC protocol. A shard becomes visible only on commit; reads fail
// with DataLoss at the first corrupt block, before sending any of it.
type Server struct {
	storagepb.UnimplementedStorageServer

	ID   placement.NodeID
	Addr string

	srv  *grpc.Server
	done chan struct{}

	mu struct {
		sync.Mutex
		shards    map[string]*shard // drive/shard id
		discard   bool
		packReads int   // >0: ReadShard messages of this size, across blocks
		failAfter int64 // fail write streams past this many bytes; <0 never
		// failCommits fails every commit, as a drive that breaks (or a
		// node that dies) after taking the data and before the ack.
		failCommits bool
		stopped     bool
		writeCalls  int
		// wrongDigest makes commits answer a digest other than the one of
		// the data received, as a node whose bytes changed on their way to
		// disk would.
		wrongDigest bool
		// fullAfter fails write streams with ResourceExhausted (a full
		// drive) past this many bytes; <0 never.
		fullAfter int64
		// freezeAfter makes write streams stop reading past this many
		// bytes, as a stopped process does; <0 never.
		freezeAfter int64
		// freezeRead makes ReadShard of matching shards hang.
		freezeRead func(shardID string) bool
		// readsCancelled counts frozen reads whose caller gave up.
		readsCancelled int
		readCalls      map[string]int // shard id → ReadShard calls
	}
}

// StartServer starts a server for node id, with extra gRPC options such as
// flow-control windows; it is stopped at test end.
func StartServer(tb testing.TB, id placement.NodeID, opts ...grpc.ServerOption) *Server {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("objiotest: listen: %v", err)
	}
	s := &Server{ID: id, Addr: lis.Addr().String(), srv: grpc.NewServer(opts...), done: make(chan struct{})}
	s.mu.shards = map[string]*shard{}
	s.mu.failAfter = -1
	s.mu.fullAfter = -1
	s.mu.freezeAfter = -1
	s.mu.readCalls = map[string]int{}
	storagepb.RegisterStorageServer(s.srv, s)
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(lis)
	}()
	tb.Cleanup(s.Stop)
	return s
}

// Stop stops the server at once, breaking open streams; its address then
// refuses connections. It keeps its shards (see Shards).
func (s *Server) Stop() {
	s.mu.Lock()
	s.mu.stopped = true
	s.mu.Unlock()
	s.srv.Stop()
	<-s.done
}

// SetDiscard makes the server keep only the size of shards written from
// now on, for tests that push more data than memory should hold. Reads of
// such shards fail.
func (s *Server) SetDiscard(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.discard = on
}

// PackReads makes ReadShard send messages of n bytes whatever the block
// boundaries, as a node that packs several blocks a message or cuts them
// unevenly; n <= 0 restores messages that never cross a block.
func (s *Server) PackReads(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.packReads = n
}

// FailWritesAfter makes every WriteShard stream fail with Internal once it
// has received more than n bytes; n < 0 turns that off.
func (s *Server) FailWritesAfter(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.failAfter = n
}

// FillAfter makes every WriteShard stream fail with ResourceExhausted, as
// a full drive does, once it has received more than n bytes; n < 0 turns
// that off.
func (s *Server) FillAfter(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.fullAfter = n
}

// FreezeWritesAfter makes every WriteShard stream stop reading once it has
// received more than n bytes, until its caller gives up; n < 0 turns that
// off for new streams.
func (s *Server) FreezeWritesAfter(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.freezeAfter = n
}

// FreezeReads makes ReadShard of every shard for which match returns true
// hang until its caller gives up, as a frozen drive does; nil turns that
// off.
func (s *Server) FreezeReads(match func(shardID string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.freezeRead = match
}

// ReadsCancelled counts frozen reads whose caller gave up.
func (s *Server) ReadsCancelled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.readsCancelled
}

// ReadCalls counts ReadShard calls for shardID.
func (s *Server) ReadCalls(shardID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.readCalls[shardID]
}

// FailCommits makes every WriteShard commit fail with Unavailable after all
// the data arrived, storing nothing.
func (s *Server) FailCommits(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.failCommits = on
}

// AnswerWrongDigest makes every commit acknowledge a digest that does not
// match the data sent.
func (s *Server) AnswerWrongDigest(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.wrongDigest = on
}

// Digest returns the digest the server computed for a shard.
func (s *Server) Digest(drive, shardID string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, ok := s.mu.shards[drive+"/"+shardID]
	if !ok {
		return nil, false
	}
	return append([]byte(nil), sh.digest...), true
}

// Misplace gives a shard another digest, as a file of another shard copied
// under its name would have: its frames verify, but a read that expects
// its recorded digest fails with DataLoss.
func (s *Server) Misplace(drive, shardID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, ok := s.mu.shards[drive+"/"+shardID]
	if !ok {
		return false
	}
	sh.digest = append([]byte(nil), sh.digest...)
	sh.digest[0] ^= 0xff
	return true
}

// WriteCalls counts WriteShard streams received.
func (s *Server) WriteCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.writeCalls
}

// Shards lists the committed shards as "drive/shard", sorted.
func (s *Server) Shards() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.mu.shards))
	for k := range s.mu.shards {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Data returns a copy of a committed shard's bytes.
func (s *Server) Data(drive, shardID string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, ok := s.mu.shards[drive+"/"+shardID]
	if !ok {
		return nil, false
	}
	return append([]byte(nil), sh.data...), true
}

// Corrupt marks the bitrot block holding shard byte off as failing its
// checksum.
func (s *Server) Corrupt(drive, shardID string, off int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, ok := s.mu.shards[drive+"/"+shardID]
	if !ok {
		return false
	}
	sh.corrupt[off/int64(sh.blockSize)] = true
	return true
}

// Remove deletes a shard as if its drive lost it.
func (s *Server) Remove(drive, shardID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.mu.shards[drive+"/"+shardID]
	delete(s.mu.shards, drive+"/"+shardID)
	return ok
}

// WriteShard implements storagepb.StorageServer.
func (s *Server) WriteShard(stream grpc.ClientStreamingServer[storagepb.WriteShardRequest, storagepb.WriteShardResponse]) error {
	s.mu.Lock()
	s.mu.writeCalls++
	discard, failAfter, fullAfter, freezeAfter := s.mu.discard, s.mu.failAfter, s.mu.fullAfter, s.mu.freezeAfter
	s.mu.Unlock()

	var (
		key string
		sh  = &shard{corrupt: map[int64]bool{}}
		fw  *bitrot.Writer
	)
	for first := true; ; first = false {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return status.Error(codes.Aborted, "stream ended without commit")
		}
		if err != nil {
			return err
		}
		if first {
			ref := req.GetRef()
			if ref.GetDriveId() == "" || ref.GetShardId() == "" || req.GetBlockSize() == 0 {
				return status.Error(codes.InvalidArgument, "first message needs ref and block_size")
			}
			key, sh.blockSize = ref.GetDriveId()+"/"+ref.GetShardId(), req.GetBlockSize()
			fw = bitrot.NewWriter(io.Discard, int(req.GetBlockSize()), ref.GetShardId())
		} else if req.GetRef() != nil {
			return status.Error(codes.InvalidArgument, "ref on a later message")
		}
		if d := req.GetData(); len(d) > 0 {
			if crc32.Checksum(d, castagnoli) != req.GetDataCrc32C() {
				return status.Error(codes.DataLoss, "crc32c mismatch in transit")
			}
			sh.size += uint64(len(d))
			if _, err := fw.Write(d); err != nil {
				return status.Error(codes.InvalidArgument, err.Error())
			}
			if !discard {
				sh.data = append(sh.data, d...)
			}
		}
		if failAfter >= 0 && sh.size > uint64(failAfter) {
			return status.Error(codes.Internal, "injected drive failure")
		}
		if fullAfter >= 0 && sh.size > uint64(fullAfter) {
			return status.Error(codes.ResourceExhausted, "no space left on drive")
		}
		if freezeAfter >= 0 && sh.size > uint64(freezeAfter) {
			<-stream.Context().Done()
			return stream.Context().Err()
		}
		if req.GetCommit() {
			if req.GetTotalSize() != sh.size {
				return status.Errorf(codes.InvalidArgument, "total_size %d, received %d", req.GetTotalSize(), sh.size)
			}
			break
		}
	}
	if err := fw.Close(); err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	sh.digest = fw.Digest()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.stopped || s.mu.failCommits {
		return status.Error(codes.Unavailable, "stopping")
	}
	s.mu.shards[key] = sh
	digest := sh.digest
	if s.mu.wrongDigest {
		digest = append([]byte(nil), digest...)
		digest[len(digest)-1] ^= 1
	}
	return stream.SendAndClose(&storagepb.WriteShardResponse{Size: sh.size, Digest: digest})
}

// ReadShard implements storagepb.StorageServer.
func (s *Server) ReadShard(req *storagepb.ReadShardRequest, stream grpc.ServerStreamingServer[storagepb.ReadShardResponse]) error {
	key := req.GetRef().GetDriveId() + "/" + req.GetRef().GetShardId()
	s.mu.Lock()
	s.mu.readCalls[req.GetRef().GetShardId()]++
	if f := s.mu.freezeRead; f != nil && f(req.GetRef().GetShardId()) {
		s.mu.Unlock()
		<-stream.Context().Done()
		s.mu.Lock()
		s.mu.readsCancelled++
		s.mu.Unlock()
		return stream.Context().Err()
	}
	sh, ok := s.mu.shards[key]
	var (
		data    []byte
		corrupt map[int64]bool
		bs      int64
		size    uint64
	)
	if ok && len(req.GetExpectDigest()) > 0 && !bytes.Equal(req.GetExpectDigest(), sh.digest) {
		s.mu.Unlock()
		return status.Errorf(codes.DataLoss, "shard %s: digest mismatch", key)
	}
	pack := int64(s.mu.packReads)
	if ok {
		data, bs, size = sh.data, int64(sh.blockSize), sh.size
		corrupt = make(map[int64]bool, len(sh.corrupt))
		for b := range sh.corrupt {
			corrupt[b] = true
		}
	}
	s.mu.Unlock()
	if !ok {
		return status.Errorf(codes.NotFound, "shard %s", key)
	}
	if uint64(len(data)) != size {
		return status.Errorf(codes.FailedPrecondition, "shard %s was written in discard mode", key)
	}
	off, end := int64(req.GetOffset()), int64(len(data))
	if off > end {
		return status.Errorf(codes.OutOfRange, "offset %d past size %d", off, end)
	}
	if l := int64(req.GetLength()); l > 0 {
		if l > end-off {
			return status.Errorf(codes.OutOfRange, "range %d+%d past size %d", off, l, end)
		}
		end = off + l
	}
	for off < end {
		// Never cross a bitrot block: each is verified before any of it goes out.
		n := min(end-off, readChunk, (off/bs+1)*bs-off)
		if pack > 0 {
			n = min(end-off, pack)
		}
		for b := off / bs; b <= (off+n-1)/bs; b++ {
			if corrupt[b] {
				return status.Errorf(codes.DataLoss, "shard %s: block %d checksum mismatch", key, b)
			}
		}
		if err := stream.Send(&storagepb.ReadShardResponse{Data: data[off : off+n]}); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// DeleteShard implements storagepb.StorageServer.
func (s *Server) DeleteShard(_ context.Context, req *storagepb.DeleteShardRequest) (*storagepb.DeleteShardResponse, error) {
	key := req.GetRef().GetDriveId() + "/" + req.GetRef().GetShardId()
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.mu.shards[key]
	delete(s.mu.shards, key)
	return &storagepb.DeleteShardResponse{Existed: ok}, nil
}

// StatShard implements storagepb.StorageServer.
func (s *Server) StatShard(_ context.Context, req *storagepb.StatShardRequest) (*storagepb.StatShardResponse, error) {
	key := req.GetRef().GetDriveId() + "/" + req.GetRef().GetShardId()
	s.mu.Lock()
	defer s.mu.Unlock()
	sh, ok := s.mu.shards[key]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "shard %s", key)
	}
	return &storagepb.StatShardResponse{Size: sh.size, BlockSize: sh.blockSize, Digest: sh.digest}, nil
}
