package storage

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"

	"github.com/cairn-io/cairn/erasure/bitrot"
	"github.com/cairn-io/cairn/node/dial"
	// Registers the codec gateways ask for on WriteShard and ReadShard
	// streams: it saves the data copies of the generic codec.
	"github.com/cairn-io/cairn/node/shardcodec"
	"github.com/cairn-io/cairn/proto/metapb"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// maxReadChunk bounds the data in one ReadShardResponse.
const maxReadChunk = 1 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// readPool lends ReadShard the buffers it reads frames into and sends from;
// a buffer sent by reference goes back once gRPC has written it, so memory
// in use is bounded by the reads in flight.
var readPool = &shardcodec.Pool{}

// Server is a storage node: its drives, the Storage gRPC service over them
// and the heartbeat loop.
type Server struct {
	cfg    Config
	log    *slog.Logger
	drives map[string]*drive
	order  []string // drive IDs in Config.Drives order
	metas  *metaGroup
	scrub  *scrubber
	met    *metrics
	wg     sync.WaitGroup

	mu struct {
		sync.Mutex
		started    bool
		heartbeats bool // the heartbeat loop runs
		closed     bool
		cancel     context.CancelFunc
	}
}

type metaConn struct {
	addr       string
	conn       *grpc.ClientConn
	client     metapb.MetaClient
	configured bool // from MetaAddrs, never forgotten
}

// New opens the drives in cfg (checking their identity, formatting new
// ones with FormatDrives, and removing stale temp files) and prepares, without dialing, the connections to the meta group.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger.With("node_id", cfg.NodeID),
		drives: make(map[string]*drive, len(cfg.Drives)),
	}
	s.metas = &metaGroup{log: s.log}
	for _, root := range cfg.Drives {
		d, err := openDrive(cfg.FS, root, FormatOptions{ClusterID: cfg.ClusterID, NodeID: cfg.NodeID, Create: cfg.FormatDrives}, s.log)
		if err != nil {
			return nil, err
		}
		if cfg.NoDirectIO {
			d.direct = false
		}
		if _, dup := s.drives[d.id]; dup {
			return nil, fmt.Errorf("storage: drive %s has the same drive ID %s as another drive", root, d.id)
		}
		s.drives[d.id] = d
		s.order = append(s.order, d.id)
	}
	dialer := cfg.Dialer
	if dialer == nil {
		dialer = dial.Default()
	}
	s.metas.dialer = dialer
	var conns []metaConn
	for _, addr := range cfg.MetaAddrs {
		conn, err := dialer.GRPC(addr)
		if err != nil {
			for _, m := range conns {
				_ = m.conn.Close()
			}
			return nil, fmt.Errorf("storage: meta client %s: %w", addr, err)
		}
		conns = append(conns, metaConn{addr: addr, conn: conn, client: metapb.NewMetaClient(conn), configured: true})
	}
	s.metas.mu.conns = conns
	reporter := cfg.Reporter
	if reporter == nil && s.metas.count() > 0 {
		reporter = metaReporter{s.metas}
	}
	s.scrub = newScrubber(s, reporter)
	met, err := newMetrics(cfg.Metrics, s)
	if err != nil {
		s.closeConns()
		return nil, err
	}
	s.met = met
	return s, nil
}

// DriveIDs returns the IDs of the node's drives in Config.Drives order.
func (s *Server) DriveIDs() []string {
	return append([]string(nil), s.order...)
}

// Register registers the Storage service on g.
func (s *Server) Register(g grpc.ServiceRegistrar) {
	storagepb.RegisterStorageServer(g, &service{s: s})
}

// Start starts the background loops, which run until ctx ends or Close is
// called: the heartbeat loop (with MetaAddrs only) and the scrubber. It
// does nothing when already started or after Close.
func (s *Server) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.started || s.mu.closed {
		return
	}
	s.mu.started = true
	ctx, cancel := context.WithCancel(ctx)
	s.mu.cancel = cancel
	if s.metas.count() > 0 {
		s.mu.heartbeats = true
		s.wg.Go(func() { s.heartbeatLoop(ctx) })
	}
	s.wg.Go(func() { s.scrub.loop(ctx) })
}

// Close stops the background loops, waits for them and closes the meta
// connections. Stop the gRPC server first: in-flight RPCs are its own.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.closed = true
	cancel := s.mu.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.wg.Wait()
	return s.closeConns()
}

func (s *Server) closeConns() error { return s.metas.close() }

func (s *Server) drive(id string) (*drive, error) {
	d, ok := s.drives[id]
	if !ok {
		return nil, fmt.Errorf("%w: unknown drive", ErrNotFound)
	}
	return d, nil
}

// resolve validates ref and finds its drive.
func (s *Server) resolve(ref *storagepb.ShardRef) (*drive, string, error) {
	if ref == nil {
		return nil, "", fmt.Errorf("%w: missing shard ref", ErrInvalid)
	}
	if err := validShardID(ref.GetShardId()); err != nil {
		return nil, "", err
	}
	d, err := s.drive(ref.GetDriveId())
	if err != nil {
		return nil, "", err
	}
	return d, ref.GetShardId(), nil
}

// fail turns err into the status sent to the client, logging the detail the
// status leaves out when the fault is ours rather than the caller's, and
// feeds the error to the drive's fault rule.
func (s *Server) fail(ctx context.Context, op string, ref *storagepb.ShardRef, err error) error {
	s.noteErr(s.drives[ref.GetDriveId()], err)
	st := toStatus(op, ref.GetShardId(), err)
	switch code, _ := codeOf(err); code {
	case codes.DataLoss:
		s.log.ErrorContext(ctx, "shard corrupt", "op", op, "drive_id", ref.GetDriveId(), "shard_id", ref.GetShardId(), "err", err)
	case codes.Internal, codes.ResourceExhausted:
		s.log.WarnContext(ctx, "shard operation failed", "op", op, "drive_id", ref.GetDriveId(), "shard_id", ref.GetShardId(), "err", err)
	}
	return st
}

// service adapts Server to storagepb.StorageServer, keeping the handlers
// out of Server's API.
type service struct {
	storagepb.UnimplementedStorageServer
	s *Server
}

func (v *service) WriteShard(stream grpc.ClientStreamingServer[storagepb.WriteShardRequest, storagepb.WriteShardResponse]) error {
	rx := &writeReceiver{stream: stream, byRef: shardcodec.Negotiated(stream.Context())}
	// The data of the last message received goes back to gRPC's pool
	// whichever way the write ends.
	defer rx.msg.Free()
	err := rx.next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: empty write stream", ErrInvalid)
		}
		return v.s.fail(stream.Context(), "write", nil, err)
	}
	ref := rx.msg.Ref
	resp, err := v.s.writeShard(stream.Context(), rx)
	if err != nil {
		return v.s.fail(stream.Context(), "write", ref, err)
	}
	return stream.SendAndClose(resp)
}

// writeReceiver receives a WriteShard stream's messages into msg, one at a
// time. From a client that asked for the shard codec (a gateway) msg's
// data refers to the frames gRPC received it in: the handler writes those
// pieces to the shard file without copying them into a message first.
// From any other client the protobuf codec decodes into plain, and msg's
// data is plain's.
type writeReceiver struct {
	stream grpc.ClientStreamingServer[storagepb.WriteShardRequest, storagepb.WriteShardResponse]
	byRef  bool
	msg    shardcodec.WriteRefs
	plain  storagepb.WriteShardRequest
	one    [1]mem.Buffer // msg.Data's backing array for plain's data
}

// next receives the next message, freeing the previous one's data first.
func (r *writeReceiver) next() error {
	r.msg.Free()
	if r.byRef {
		return r.stream.RecvMsg(&r.msg)
	}
	if err := r.stream.RecvMsg(&r.plain); err != nil {
		return err
	}
	m := &r.plain
	r.msg = shardcodec.WriteRefs{Ref: m.Ref, BlockSize: m.BlockSize, DataCRC32C: m.DataCrc32C, Commit: m.Commit, TotalSize: m.TotalSize}
	if len(m.Data) > 0 {
		r.one[0] = mem.SliceBuffer(m.Data)
		r.msg.Data = r.one[:]
	}
	return nil
}

// checksum is the CRC32C of the concatenation of data.
func checksum(data mem.BufferSlice) uint32 {
	var c uint32
	for _, b := range data {
		c = crc32.Update(c, castagnoli, b.ReadOnlyData())
	}
	return c
}

func (s *Server) writeShard(ctx context.Context, rx *writeReceiver) (*storagepb.WriteShardResponse, error) {
	first := &rx.msg
	d, id, err := s.resolve(first.Ref)
	if err != nil {
		return nil, err
	}
	if faulty, reason := d.health.faulty(); faulty {
		return nil, fmt.Errorf("%w: %s", ErrDriveFaulty, reason)
	}
	bs := first.BlockSize
	if bs == 0 || bs > maxBlockSize {
		return nil, fmt.Errorf("%w: block size %d", ErrInvalid, bs)
	}
	p, err := d.create(id, int(bs))
	if errors.Is(err, fs.ErrNotExist) {
		// The temp directory always exists on a healthy drive: check
		// the drive now rather than at the next heartbeat.
		s.checkDrive(d)
		if faulty, reason := d.health.faulty(); faulty {
			return nil, fmt.Errorf("%w: %s", ErrDriveFaulty, reason)
		}
	}
	if err != nil {
		return nil, err
	}
	defer p.abort()
	var total uint64
	for {
		msg := &rx.msg
		if checksum(msg.Data) != msg.DataCRC32C {
			return nil, fmt.Errorf("storage: write shard %s: data_crc32c mismatch at offset %d: %w", id, p.dataWritten(), ErrCorrupt)
		}
		// The checksum just verified is the block's frame checksum when
		// the message is a whole block (the gateway sends one a message),
		// or the start of the block's running checksum when it starts one
		// (a shard's short last block, the first chunk of a large block):
		// most bytes are checksummed once on their way to disk.
		if _, err := p.WriteBlockParts(msg.Data, msg.DataCRC32C); err != nil {
			return nil, err
		}
		if msg.Commit {
			total = msg.TotalSize
			break
		}
		err = rx.next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: stream ended without commit", ErrInvalid)
		}
		if err != nil {
			return nil, err
		}
	}
	// The data is on its way to disk (or in the writer's buffer): let
	// gRPC have its buffers back while the shard commits.
	rx.msg.Free()
	if got := p.dataWritten(); uint64(got) != total {
		return nil, fmt.Errorf("%w: total_size %d, received %d bytes", ErrInvalid, total, got)
	}
	if err := p.commit(ctx); err != nil {
		return nil, err
	}
	s.met.written.WithLabelValues(d.id).Add(float64(p.dataWritten()))
	return &storagepb.WriteShardResponse{Size: uint64(p.dataWritten()), Digest: p.digest()}, nil
}

func (v *service) ReadShard(req *storagepb.ReadShardRequest, stream grpc.ServerStreamingServer[storagepb.ReadShardResponse]) error {
	if err := v.s.readShard(req, stream); err != nil {
		return v.s.fail(stream.Context(), "read", req.GetRef(), err)
	}
	return nil
}

func (s *Server) readShard(req *storagepb.ReadShardRequest, stream grpc.ServerStreamingServer[storagepb.ReadShardResponse]) error {
	d, id, err := s.resolve(req.GetRef())
	if err != nil {
		return err
	}
	sf, err := d.open(id)
	if err != nil {
		return err
	}
	defer sf.f.Close()
	if want := req.GetExpectDigest(); len(want) > 0 {
		if err := sf.expect(want); err != nil {
			return fmt.Errorf("storage: read shard %s: %w", id, err)
		}
	}
	off, n, err := readRange(req.GetOffset(), req.GetLength(), sf.dataSize)
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	rs := &readSender{stream: stream, byRef: shardcodec.Negotiated(stream.Context())}
	defer func() { s.met.read.WithLabelValues(d.id).Add(float64(rs.sent)) }()
	if err := bitrot.ReadBlocks(sf.f, sf.dataSize, int(sf.header.BlockSize), off, n, readPool, rs.send); err != nil {
		return fmt.Errorf("storage: read shard %s [%d,+%d): %w", id, off, n, err)
	}
	return nil
}

// readRange resolves a requested range against the data size.
func readRange(offset, length uint64, size int64) (off, n int64, err error) {
	if offset > uint64(size) {
		return 0, 0, fmt.Errorf("%w: offset %d beyond size %d", ErrOutOfRange, offset, size)
	}
	rest := uint64(size) - offset
	if length == 0 {
		length = rest
	}
	if length > rest {
		return 0, 0, fmt.Errorf("%w: %d bytes at offset %d beyond size %d", ErrOutOfRange, length, offset, size)
	}
	return int64(offset), int64(length), nil
}

// readSender streams verified blocks as ReadShardResponses of at most
// maxReadChunk bytes: whole blocks of a batch together while they fit (a
// block a message from 512 KiB up), a larger block in pieces. A gateway
// receives a message that is one block straight into that block's buffer.
type readSender struct {
	stream grpc.ServerStreamingServer[storagepb.ReadShardResponse]
	// byRef: the client asked for the shard codec, so the data goes out
	// by reference to the read buffer, which returns to readPool once
	// gRPC has written it. Otherwise the protobuf codec copies it while
	// Send marshals, and the buffer is free again when Send returns.
	byRef bool
	sent  int64         // bytes sent
	parts []bitrot.Span // one message's spans, reused
	refs  mem.BufferSlice
}

// send is ReadBlocks' yield: it owns buf.
func (r *readSender) send(buf *[]byte, spans []bitrot.Span) error {
	if !r.byRef {
		defer readPool.Put(buf)
		return r.group(spans, func(parts []bitrot.Span) error {
			// Close the checksum gaps between the message's blocks:
			// protobuf wants its bytes in one slice.
			end := parts[0].Hi
			for _, p := range parts[1:] {
				end += copy((*buf)[end:], (*buf)[p.Lo:p.Hi])
			}
			return r.stream.Send(&storagepb.ReadShardResponse{Data: (*buf)[parts[0].Lo:end]})
		})
	}
	root := mem.NewBuffer(buf, readPool)
	// Each message holds its own references; the last one freed, by
	// gRPC after writing it or by us on failure, gives buf back.
	defer root.Free()
	return r.group(spans, func(parts []bitrot.Span) error {
		refs := r.refs[:0]
		for _, p := range parts {
			refs = append(refs, root.Slice(p.Lo, p.Hi))
		}
		err := r.stream.SendMsg(&shardcodec.ReadChunk{Data: refs})
		refs.Free()
		clear(refs)
		r.refs = refs[:0]
		return err
	})
}

// group cuts spans into messages and hands each to send.
func (r *readSender) group(spans []bitrot.Span, send func([]bitrot.Span) error) error {
	parts, size := r.parts[:0], 0
	flush := func() error {
		if size == 0 {
			return nil
		}
		if err := send(parts); err != nil {
			return err
		}
		r.sent += int64(size)
		parts, size = parts[:0], 0
		return nil
	}
	for _, sp := range spans {
		if size+sp.Hi-sp.Lo > maxReadChunk {
			if err := flush(); err != nil {
				return err
			}
		}
		for lo := sp.Lo; lo < sp.Hi; {
			hi := min(sp.Hi, lo+maxReadChunk-size)
			parts = append(parts, bitrot.Span{Lo: lo, Hi: hi})
			size += hi - lo
			lo = hi
			if size == maxReadChunk {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	err := flush()
	r.parts = parts[:0]
	return err
}

func (v *service) DeleteShard(ctx context.Context, req *storagepb.DeleteShardRequest) (*storagepb.DeleteShardResponse, error) {
	d, id, err := v.s.resolve(req.GetRef())
	if err != nil {
		return nil, v.s.fail(ctx, "delete", req.GetRef(), err)
	}
	var cutoff time.Time
	if ns := req.GetUnlessNewerThanUnixNano(); ns > 0 {
		cutoff = time.Unix(0, ns)
	}
	existed, kept, err := d.removeIf(id, cutoff)
	if err != nil {
		return nil, v.s.fail(ctx, "delete", req.GetRef(), err)
	}
	if kept {
		v.s.log.Info("kept a shard newer than its deletion", "drive_id", d.id, "shard", id)
	}
	return &storagepb.DeleteShardResponse{Existed: existed, Kept: kept}, nil
}

func (v *service) StatShard(ctx context.Context, req *storagepb.StatShardRequest) (*storagepb.StatShardResponse, error) {
	d, id, err := v.s.resolve(req.GetRef())
	if err != nil {
		return nil, v.s.fail(ctx, "stat", req.GetRef(), err)
	}
	sf, err := d.stat(id)
	if err != nil {
		return nil, v.s.fail(ctx, "stat", req.GetRef(), err)
	}
	return &storagepb.StatShardResponse{
		Size:          uint64(sf.dataSize),
		BlockSize:     sf.header.BlockSize,
		MtimeUnixNano: sf.modTime.UnixNano(),
		Digest:        sf.digest,
	}, nil
}
