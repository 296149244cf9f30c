// Package dial is the one seam through which a process opens connections to
// other Cairn nodes: every gRPC client connection (gateway → meta, gateway →
// storage, storage → meta, meta → meta and meta → storage) and the Raft
// transport's raw TCP dials take their options from one Dialer. Transport
// credentials (mutual TLS), a fault-injecting net dialer in tests, keepalive
// and reconnect backoff are therefore set in one place.
//
// Imports: gRPC only; it knows nothing of the roles.
//
// Why these defaults: a hung or partitioned peer must be noticed within
// seconds (keepalive pings on idle connections), and a restarted peer must
// be used again within seconds (reconnect backoff capped at MaxBackoff
// instead of gRPC's 120 s).
package dial

import (
	"context"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// Defaults for Config.
const (
	// DefaultKeepaliveTime is how long a connection may be silent before
	// the client pings it.
	DefaultKeepaliveTime = 10 * time.Second
	// DefaultKeepaliveTimeout is how long a ping may go unanswered before
	// the connection is closed and its calls fail with Unavailable.
	DefaultKeepaliveTimeout = 5 * time.Second
	// DefaultMaxBackoff caps the wait between reconnect attempts.
	DefaultMaxBackoff = 2 * time.Second
	// DefaultConnectTimeout bounds one connection attempt.
	DefaultConnectTimeout = 3 * time.Second
)

// NetDialer opens a raw connection; net.Dialer.DialContext has this shape.
// Tests substitute one that drops, delays or partitions.
type NetDialer func(ctx context.Context, network, addr string) (net.Conn, error)

// Config configures a Dialer. The zero value dials plain TCP with the
// defaults above.
type Config struct {
	// Creds secures gRPC connections; nil means plaintext (insecure).
	Creds credentials.TransportCredentials
	// Net opens the underlying connections of gRPC and of the Raft
	// transport; nil means a net.Dialer.
	Net NetDialer
	// KeepaliveTime, KeepaliveTimeout, MaxBackoff and ConnectTimeout
	// override the defaults when positive.
	KeepaliveTime    time.Duration
	KeepaliveTimeout time.Duration
	MaxBackoff       time.Duration
	ConnectTimeout   time.Duration
	// Extra are dial options added to every gRPC connection after the
	// ones above, such as the interceptors that count calls and pass the
	// request ID on.
	Extra []grpc.DialOption
}

func (c *Config) setDefaults() {
	if c.Creds == nil {
		c.Creds = insecure.NewCredentials()
	}
	if c.Net == nil {
		var d net.Dialer
		c.Net = d.DialContext
	}
	if c.KeepaliveTime <= 0 {
		c.KeepaliveTime = DefaultKeepaliveTime
	}
	if c.KeepaliveTimeout <= 0 {
		c.KeepaliveTimeout = DefaultKeepaliveTimeout
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
}

// Dialer hands out the dial options of one process. It is immutable and
// safe for concurrent use.
type Dialer struct {
	cfg  Config
	opts []grpc.DialOption
}

// New returns a Dialer for cfg.
func New(cfg Config) *Dialer {
	cfg.setDefaults()
	netDial := cfg.Net
	d := &Dialer{cfg: cfg, opts: []grpc.DialOption{
		grpc.WithTransportCredentials(BatchWrites(cfg.Creds)),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return netDial(ctx, "tcp", addr)
		}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                cfg.KeepaliveTime,
			Timeout:             cfg.KeepaliveTimeout,
			PermitWithoutStream: true,
		}),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{
				BaseDelay:  100 * time.Millisecond,
				Multiplier: 1.6,
				Jitter:     0.2,
				MaxDelay:   cfg.MaxBackoff,
			},
			MinConnectTimeout: cfg.ConnectTimeout,
		}),
	}}
	d.opts = append(d.opts, cfg.Extra...)
	return d
}

// With returns a Dialer that adds extra to every connection's options
// (after those of d), such as interceptors; d is unchanged.
func (d *Dialer) With(extra ...grpc.DialOption) *Dialer {
	out := &Dialer{cfg: d.cfg, opts: make([]grpc.DialOption, 0, len(d.opts)+len(extra))}
	out.opts = append(append(out.opts, d.opts...), extra...)
	out.cfg.Extra = append(append([]grpc.DialOption(nil), d.cfg.Extra...), extra...)
	return out
}

// Default is a Dialer with the zero Config: plaintext, default timings.
func Default() *Dialer { return New(Config{}) }

// Options returns the process's dial options followed by extra, which
// therefore override them (window sizes, message limits).
func (d *Dialer) Options(extra ...grpc.DialOption) []grpc.DialOption {
	out := make([]grpc.DialOption, 0, len(d.opts)+len(extra))
	return append(append(out, d.opts...), extra...)
}

// Secure reports whether d's connections use TLS.
func (d *Dialer) Secure() bool { return d.cfg.Creds.Info().SecurityProtocol == "tls" }

// ReadBufferSize is the gRPC transport read buffer a connection of shard
// traffic wants. Over TLS none: the framer then reads the tls.Conn
// directly, which reads the socket in runs of whole records and hands
// out one decrypted record per Read, so a buffer in between saves no
// system call and costs one more copy of every byte (about 6 % of a gateway's
// CPU under 64 MiB GETs). In plaintext a buffer keeps every 9-byte frame
// header from being a system call of its own.
func ReadBufferSize(secure bool) int {
	if secure {
		return 0
	}
	return 512 << 10
}

// GRPC creates a client connection to addr. Connecting is lazy: an
// unreachable peer shows up as Unavailable on the first call.
func (d *Dialer) GRPC(addr string, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	cc, err := grpc.NewClient(addr, d.Options(extra...)...)
	if err != nil {
		return nil, fmt.Errorf("dial: %s: %w", addr, err)
	}
	return cc, nil
}

// DialContext opens a raw connection (the Raft transport's) through the
// configured net dialer.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.cfg.Net(ctx, network, addr)
}

// ServerOptions are the keepalive settings every gRPC server of a process
// uses: they let clients ping idle connections as often as Dialer does
// (gRPC's default policy would answer such pings with GOAWAY), and make
// the server drop clients that stop answering.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             DefaultKeepaliveTime / 2,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			Time:    DefaultKeepaliveTime,
			Timeout: DefaultKeepaliveTimeout,
		}),
	}
}
