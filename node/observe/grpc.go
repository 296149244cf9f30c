package observe

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// rpcBuckets span a metadata lookup on loopback (well under a millisecond)
// to a shard stream of a large object (seconds).
var rpcBuckets = prometheus.ExponentialBuckets(0.0005, 4, 10)

// GRPC counts and times the gRPC calls of one side (client or server) of a
// process.
type GRPC struct {
	calls   *prometheus.CounterVec
	latency *prometheus.HistogramVec
	log     *slog.Logger
}

// NewGRPC registers the metrics of side ("client" or "server") on reg:
// cairn_grpc_<side>_calls_total{method,code} and
// cairn_grpc_<side>_call_duration_seconds{method}. With a nil reg nothing
// is counted (the interceptors still pass request IDs on). Failed server
// calls are logged at debug level to log (nil discards).
func NewGRPC(reg prometheus.Registerer, side string, log *slog.Logger) *GRPC {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		return &GRPC{log: log}
	}
	m := &GRPC{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_grpc_" + side + "_calls_total",
			Help: "gRPC calls finished, by full method and status code.",
		}, []string{"method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cairn_grpc_" + side + "_call_duration_seconds",
			Help:    "Duration of gRPC calls (streams: until their end), by full method.",
			Buckets: rpcBuckets,
		}, []string{"method"}),
		log: log,
	}
	reg.MustRegister(m.calls, m.latency)
	return m
}

func (m *GRPC) observe(method string, start time.Time, err error) {
	if m.calls == nil {
		return
	}
	m.calls.WithLabelValues(method, status.Code(err).String()).Inc()
	m.latency.WithLabelValues(method).Observe(time.Since(start).Seconds())
}

// DialOptions are the client interceptors: each call passes on the request
// ID of its context in metadata, and is counted and timed.
func (m *GRPC) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(m.unaryClient),
		grpc.WithChainStreamInterceptor(m.streamClient),
	}
}

func outgoing(ctx context.Context) context.Context {
	if id := RequestID(ctx); id != "" {
		return metadata.AppendToOutgoingContext(ctx, RequestIDKey, id)
	}
	return ctx
}

func (m *GRPC) unaryClient(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	start := time.Now()
	err := invoker(outgoing(ctx), method, req, reply, cc, opts...)
	m.observe(method, start, err)
	return err
}

func (m *GRPC) streamClient(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	start := time.Now()
	cs, err := streamer(outgoing(ctx), desc, cc, method, opts...)
	if err != nil {
		m.observe(method, start, err)
		return nil, err
	}
	return &clientStream{ClientStream: cs, serverStreams: desc.ServerStreams, done: func(err error) { m.observe(method, start, err) }}, nil
}

// clientStream reports the end of a stream once: a client-streaming call
// ends with its one response, a server-streaming one with the error
// (io.EOF: success) that ends its receiving. A stream abandoned by its
// caller (context cancelled, never read to the end) is not counted.
type clientStream struct {
	grpc.ClientStream
	serverStreams bool
	once          sync.Once
	done          func(error)
}

func (s *clientStream) finish(err error) {
	if errors.Is(err, io.EOF) {
		err = nil
	}
	s.once.Do(func() { s.done(err) })
}

func (s *clientStream) RecvMsg(msg any) error {
	err := s.ClientStream.RecvMsg(msg)
	if err != nil || !s.serverStreams {
		s.finish(err)
	}
	return err
}

func (s *clientStream) SendMsg(msg any) error {
	err := s.ClientStream.SendMsg(msg)
	if err != nil && !errors.Is(err, io.EOF) {
		// io.EOF on send means the server ended the stream; its status
		// comes with RecvMsg.
		s.finish(err)
	}
	return err
}

// ServerOptions are the server interceptors: each call's context carries
// the request ID its caller sent (so the role's *Context log calls name
// it), and each call is counted and timed; failed calls are logged at
// debug level with the request ID.
func (m *GRPC) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(m.unaryServer),
		grpc.ChainStreamInterceptor(m.streamServer),
	}
}

func incoming(ctx context.Context) context.Context {
	vs := metadata.ValueFromIncomingContext(ctx, RequestIDKey)
	if len(vs) == 0 || vs[0] == "" {
		return ctx
	}
	id := vs[0]
	if len(id) > maxRequestIDLen {
		id = id[:maxRequestIDLen]
	}
	return WithRequestID(ctx, id)
}

func (m *GRPC) unaryServer(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	ctx = incoming(ctx)
	resp, err := handler(ctx, req)
	m.served(ctx, info.FullMethod, start, err)
	return resp, err
}

func (m *GRPC) streamServer(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	ctx := incoming(ss.Context())
	err := handler(srv, &serverStream{ServerStream: ss, ctx: ctx})
	m.served(ctx, info.FullMethod, start, err)
	return err
}

func (m *GRPC) served(ctx context.Context, method string, start time.Time, err error) {
	m.observe(method, start, err)
	if err != nil {
		m.log.DebugContext(ctx, "grpc call failed", "method", method, "code", status.Code(err).String(), "duration", time.Since(start), "err", err)
	}
}

type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }
