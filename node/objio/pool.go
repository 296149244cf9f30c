package objio

import (
	"errors"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/experimental"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/node/shardcodec"
	"github.com/cairn-io/cairn/proto/storagepb"
)

// Window sizes let one shard stream keep several blocks on the wire: with
// gRPC's 64 KiB default a stream stalls on flow control long before
// loopback or a LAN is busy.
const (
	streamWindow = 2 << 20
	connWindow   = 8 << 20
	// maxMsgSize admits a whole block of the largest profile plus framing.
	maxMsgSize = erasure.MaxBlockSize + 1<<20
	// writeBuffer sizes the transport's write buffer for 1 MiB blocks
	// (the read buffer is dial.ReadBufferSize's). gRPC's 32 KiB default makes its writer flush (one write
	// system call, and one TLS record run) every two 16 KiB frames: 32
	// calls per shard block. With a buffer the size of a block the writer
	// flushes about once per block.
	writeBuffer = 1 << 20
)

// frameBuffers is the storage connections' gRPC buffer pool: the buffers
// they read HTTP/2 data frames into (ReadShard data, up to 16 KiB a frame).
// gRPC's own pool clears every buffer it hands out, 7 % of a gateway's CPU
// under GET; a shardcodec.Pool does not, which is safe because gRPC fills
// every byte of a buffer it reads into (io.ReadFull of the frame, or a
// copy of exactly the bytes it gathers) before anyone sees it.
var frameBuffers = &shardcodec.Pool{}

// ErrPoolClosed is returned by Pool.Storage after Close.
var ErrPoolClosed = errors.New("objio: connection pool closed")

// Pool keeps one gRPC connection per storage address. It is safe for
// concurrent use and implements Dialer.
type Pool struct {
	opts []grpc.DialOption
	mu   struct {
		sync.Mutex
		conns  map[string]*grpc.ClientConn
		closed bool
	}
}

var _ Dialer = (*Pool)(nil)

// NewPool returns an empty pool whose connections take the process's dial
// options from d (nil: dial.Default()), sized for shard traffic.
func NewPool(d *dial.Dialer) *Pool {
	if d == nil {
		d = dial.Default()
	}
	p := &Pool{opts: d.Options(
		grpc.WithInitialWindowSize(streamWindow),
		grpc.WithInitialConnWindowSize(connWindow),
		grpc.WithWriteBufferSize(writeBuffer),
		grpc.WithReadBufferSize(dial.ReadBufferSize(d.Secure())),
		experimental.WithBufferPool(frameBuffers),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(maxMsgSize),
			grpc.MaxCallSendMsgSize(maxMsgSize),
		),
	)}
	p.mu.conns = map[string]*grpc.ClientConn{}
	return p
}

// Storage returns a client for the storage node at addr, creating its
// connection on first use. Connecting is lazy: an unreachable node shows up
// as Unavailable on the first call.
func (p *Pool) Storage(addr string) (storagepb.StorageClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		return nil, ErrPoolClosed
	}
	cc, ok := p.mu.conns[addr]
	if !ok {
		var err error
		cc, err = grpc.NewClient(addr, p.opts...)
		if err != nil {
			return nil, fmt.Errorf("objio: dial storage %s: %w", addr, err)
		}
		p.mu.conns[addr] = cc
	}
	return storagepb.NewStorageClient(cc), nil
}

// Close closes every connection; later Storage calls fail.
func (p *Pool) Close() error {
	p.mu.Lock()
	conns := p.mu.conns
	p.mu.conns = nil
	p.mu.closed = true
	p.mu.Unlock()
	var errs []error
	for addr, cc := range conns {
		if err := cc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("objio: close %s: %w", addr, err))
		}
	}
	return errors.Join(errs...)
}
