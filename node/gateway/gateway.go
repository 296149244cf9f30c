package gateway

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/gateway/access"
	"github.com/cairn-io/cairn/node/gateway/s3err"
	"github.com/cairn-io/cairn/node/gateway/sigv2"
	"github.com/cairn-io/cairn/node/gateway/sigv4"
	"github.com/cairn-io/cairn/node/gateway/sse"
	"github.com/cairn-io/cairn/node/identity"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/node/observe"
	"github.com/cairn-io/cairn/proto/metapb"
)

// Defaults applied by Config.Validate.
const (
	DefaultRegion     = "us-east-1"
	DefaultMaxPutSize = 5 << 30 // S3's single-PUT limit
	// DefaultMaxSkew is how far a request's signing time may be from the
	// gateway's clock, as AWS allows.
	DefaultMaxSkew = 15 * time.Minute
)

// ErrInvalidConfig marks a Config that Validate rejects.
var ErrInvalidConfig = errors.New("gateway: invalid config")

// Bodies stores and fetches object bodies; objio.Store implements it.
type Bodies interface {
	// WriteBody returns only once every shard is durable. Errors of r are
	// returned wrapped.
	WriteBody(ctx context.Context, r io.Reader, opts objio.WriteOptions) (*objio.Body, error)
	DeleteBody(ctx context.Context, dataID string, shards []*metapb.ShardPlacement) error
	ReadBody(ctx context.Context, v *metapb.ObjectVersion, off, length int64, w io.Writer) error
}

// DefaultInlineMaxBytes is the inline threshold the server flag defaults
// to (see Config.InlineMaxBytes and README, "Small objects").
const DefaultInlineMaxBytes = 64 << 10

// Config configures a Gateway.
type Config struct {
	// Region the gateway answers for; default DefaultRegion.
	Region string
	// Root credentials. Requests are checked through a credentials lookup,
	// so more identities can be added without changing the handlers.
	AccessKey, SecretKey string
	// Meta is the gateway's port onto the meta group; NewMetaClient
	// adapts the generated client.
	Meta   Meta
	Bodies Bodies
	// Profile is the erasure profile of the STANDARD storage class.
	Profile erasure.Profile
	// StorageClasses maps the x-amz-storage-class values the cluster
	// accepts to their erasure profiles. Default: STANDARD = Profile and
	// REDUCED_REDUNDANCY = Profile with one parity shard.
	StorageClasses map[string]erasure.Profile
	// VirtualHostSuffixes enable "<bucket>.<suffix>" addressing, e.g.
	// "localhost" or "s3.example.com". Other hosts use path-style.
	VirtualHostSuffixes []string
	// Keyring holds the keys of SSE-S3 and SSE-KMS; nil refuses both
	// (SSE-C needs no server keys).
	Keyring *sse.Keyring
	// InlineMaxBytes: single-part bodies (PUT, CopyObject) of at most this
	// many stored bytes are committed inside the version record instead of
	// being erasure-coded into shards; 0 disables. At most
	// objio.MaxInlineBytes. Multipart parts always go to shards.
	InlineMaxBytes int64
	// MaxPutSize bounds a single PUT; default DefaultMaxPutSize.
	MaxPutSize int64
	// MinPartSize is the smallest multipart part but the last;
	// default DefaultMinPartSize.
	MinPartSize int64
	// Logger; default discards.
	Logger *slog.Logger
	// Now is the clock for signatures and modification times; default
	// time.Now.
	Now func() time.Time
	// MasterKey (identity.MasterKeySize bytes) opens the sealed secrets of
	// users kept by the meta group. Without it only root can sign in.
	MasterKey []byte
	// PreviousMasterKey, optional, also opens them during a master key
	// rotation.
	PreviousMasterKey []byte
	// UserCacheTTL bounds how long a user lookup is trusted; default
	// DefaultUserCacheTTL.
	UserCacheTTL time.Duration
	// BodyStallTimeout cuts a request whose body sends nothing for this
	// long with 400 RequestTimeout; default DefaultBodyStallTimeout,
	// negative never.
	BodyStallTimeout time.Duration
	// Metrics registers the gateway's series (cairn_s3_*); nil registers
	// nowhere.
	Metrics prometheus.Registerer
	// Buckets, when set, serves buckets without a meta read per request
	// (bucketcache.Cache, fed by the meta leader's watch); nil reads every
	// bucket linearizably.
	Buckets BucketCache
	// LifecycleDay is the length of a lifecycle rule's day for the
	// x-amz-expiration header; default 24h, shorter only in tests.
	LifecycleDay time.Duration
	// OnUnderSpread, if set, is told of every body committed with
	// several shards on one node (objio.Reporter.OnUnderSpread sends it
	// to the repairer). It must not block.
	OnUnderSpread func(dataID string, shards []*metapb.ShardPlacement)
	// MapCaughtUp, if set, tells Ready whether the map shards are
	// placed by has caught up with the one the meta group serves
	// (clustermap.Cache.CaughtUp): until it has, the gateway is not ready.
	MapCaughtUp func(served *metapb.ClusterMap) error
}

// BucketCache is a watched cache of buckets; bucketcache.Cache implements
// it. Lookup returns a generation for Store on a miss (0: do not store).
type BucketCache interface {
	Lookup(name string) (b *metapb.Bucket, gen uint64, ok bool)
	Store(name string, b *metapb.Bucket, gen uint64)
	Invalidate()
	// OnInvalidate registers a function run after every drop.
	OnInvalidate(f func())
}

// Validate fills in defaults for zero fields and reports an invalid
// configuration, wrapping ErrInvalidConfig.
func (c *Config) Validate() error {
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.MaxPutSize == 0 {
		c.MaxPutSize = DefaultMaxPutSize
	}
	if c.MinPartSize == 0 {
		c.MinPartSize = DefaultMinPartSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.UserCacheTTL == 0 {
		c.UserCacheTTL = DefaultUserCacheTTL
	}
	if c.BodyStallTimeout == 0 {
		c.BodyStallTimeout = DefaultBodyStallTimeout
	}
	if c.LifecycleDay == 0 {
		c.LifecycleDay = defaultLifecycleDay
	}
	switch {
	case c.AccessKey == "" || c.SecretKey == "":
		return fmt.Errorf("%w: access key and secret key are required", ErrInvalidConfig)
	case c.Meta == nil:
		return fmt.Errorf("%w: meta client is required", ErrInvalidConfig)
	case c.Bodies == nil:
		return fmt.Errorf("%w: bodies store is required", ErrInvalidConfig)
	case c.MaxPutSize < 0:
		return fmt.Errorf("%w: max put size %d", ErrInvalidConfig, c.MaxPutSize)
	case c.InlineMaxBytes < 0 || c.InlineMaxBytes > objio.MaxInlineBytes:
		return fmt.Errorf("%w: inline max bytes %d outside [0, %d]", ErrInvalidConfig, c.InlineMaxBytes, objio.MaxInlineBytes)
	}
	if err := c.validateStorageClasses(); err != nil {
		return err
	}
	if err := c.Profile.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if len(c.MasterKey) != 0 && len(c.MasterKey) != identity.MasterKeySize {
		return fmt.Errorf("%w: master key is %d bytes, want %d", ErrInvalidConfig, len(c.MasterKey), identity.MasterKeySize)
	}
	for _, s := range c.VirtualHostSuffixes {
		if s == "" || strings.HasPrefix(s, ".") || strings.Contains(s, ":") {
			return fmt.Errorf("%w: virtual host suffix %q (want a host name without dot prefix or port)", ErrInvalidConfig, s)
		}
	}
	return nil
}

// Gateway serves the S3 API. It is safe for concurrent use.
type Gateway struct {
	cfg      Config
	verifier *sigv4.Verifier
	v2       *sigv2.Verifier
	ids      *identities
	log      *slog.Logger
	metrics  *metrics
	trace    traceHub
}

// New returns a Gateway for cfg.
func New(cfg Config) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var sealer *identity.Sealer
	if len(cfg.MasterKey) != 0 {
		s, err := identity.NewSealerKeys(identity.Keys{Current: cfg.MasterKey, Previous: cfg.PreviousMasterKey})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		sealer = s
	}
	ids := newIdentities(cfg.AccessKey, cfg.SecretKey, cfg.Meta, sealer, cfg.UserCacheTTL, cfg.Now)
	if cfg.Buckets != nil {
		// The watch reports user changes too.
		cfg.Buckets.OnInvalidate(ids.forget)
	}
	return &Gateway{
		cfg: cfg,
		verifier: &sigv4.Verifier{
			Creds:   ids,
			Region:  cfg.Region,
			Now:     cfg.Now,
			MaxSkew: DefaultMaxSkew,
		},
		v2:      &sigv2.Verifier{Creds: ids, Now: cfg.Now, MaxSkew: DefaultMaxSkew},
		ids:     ids,
		log:     cfg.Logger,
		metrics: newMetrics(cfg.Metrics),
	}, nil
}

// request is what the router learnt about one S3 request.
type request struct {
	r      *http.Request
	id     string
	bucket string
	key    string
	auth   *sigv4.Result
	// op names the S3 operation for metrics and the access log.
	op string
	// caller is who signed the request (or an anonymous caller).
	caller access.Caller
	// owner is the canonical ID of the caller, the owner of what it
	// creates; empty when anonymous.
	owner string
	// post, for a browser POST upload, bounds the size of its body, whose
	// length is known only at its end.
	post *postLimits
	// errCode is the S3 error code answered, if any (for the live trace).
	errCode string
}

// ServeHTTP implements the S3 API. Every request is counted, timed and
// logged in one access-log line, and its ID travels with its context to
// the meta and storage calls made for it.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := newRequestID()
	h := w.Header()
	h.Set("Server", "Cairn")
	h.Set("x-amz-request-id", id)
	h.Set("x-amz-id-2", newHostID())
	g.metrics.begin()

	r = r.WithContext(observe.WithRequestID(r.Context(), id))
	in := &countingBody{ReadCloser: r.Body}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = in
	}
	if body := newStallBody(w, r, g.cfg.BodyStallTimeout); body != r.Body {
		r.Body = body
		defer body.(*stallBody).done()
	}
	sw := &statusWriter{ResponseWriter: w}
	rq := &request{r: r, id: id, op: opUnknown}
	if err := g.serve(sw, rq); err != nil {
		g.writeError(sw, rq, err)
	}
	g.account(rq, sw, in.n, time.Since(start))
}

// account counts a finished request and writes its access-log line.
func (g *Gateway) account(rq *request, sw *statusWriter, in int64, d time.Duration) {
	code := sw.code()
	g.metrics.end(rq.op, code, in, sw.bytes, d)
	accessKey := "anonymous"
	if rq.auth != nil && !rq.auth.Anonymous {
		accessKey = rq.auth.AccessKey
	}
	g.log.LogAttrs(rq.r.Context(), slog.LevelInfo, "s3 request",
		slog.String("request_id", rq.id),
		slog.String("op", rq.op),
		slog.String("method", rq.r.Method),
		slog.String("bucket", rq.bucket),
		slog.String("key", rq.key),
		slog.Int("status", code),
		slog.Int64("bytes_in", in),
		slog.Int64("bytes_out", sw.bytes),
		slog.Duration("duration", d),
		slog.String("access_key", accessKey),
		slog.String("remote", rq.r.RemoteAddr),
	)
	if g.trace.active() {
		g.trace.publish(TraceEvent{
			Time:      time.Now().UTC(),
			RequestID: rq.id,
			Op:        rq.op,
			Method:    rq.r.Method,
			Bucket:    rq.bucket,
			Key:       rq.key,
			Status:    code,
			Error:     rq.errCode,
			BytesIn:   in,
			BytesOut:  sw.bytes,
			Duration:  float64(d.Microseconds()) / 1000,
			AccessKey: accessKey,
			Remote:    rq.r.RemoteAddr,
		})
	}
}

// countingBody counts the request body bytes the handler reads.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

func (g *Gateway) serve(w http.ResponseWriter, rq *request) error {
	r := rq.r
	// Name the operation before authenticating, so that refused requests
	// are counted under the operation they tried.
	rq.bucket, rq.key = g.route(r)
	if op, err := resolve(r, rq.bucket, rq.key); err == nil {
		rq.op = opName(op, r.Method)
	}
	if isTraceRequest(rq) {
		rq.op = opTrace
	}
	ctx := withBucketMemo(r.Context())
	if err := checkEdge(rq); err != nil {
		return err
	}
	if rq.bucket != "" && r.Method == http.MethodOptions {
		rq.op = opPreflight
		return g.preflight(ctx, w, rq)
	}
	g.corsActual(ctx, w, rq)
	res, err := g.authenticate(r)
	if err != nil {
		return fmt.Errorf("authenticate: %w", err)
	}
	rq.auth = res
	if res.Anonymous {
		rq.caller = access.Caller{Anonymous: true}
	} else {
		c, err := g.ids.caller(r.Context(), res.AccessKey)
		if err != nil {
			return fmt.Errorf("authenticate: %w", err)
		}
		rq.caller = c
	}
	rq.owner = rq.caller.ID
	if isTraceRequest(rq) {
		return g.serveTrace(r.Context(), w, rq)
	}
	op, err := resolve(r, rq.bucket, rq.key)
	if err != nil {
		return err
	}
	if op.formAuth {
		return op.serve(g, ctx, w, rq)
	}
	if err := g.authorize(ctx, rq, op); err != nil {
		return err
	}
	if err := g.checkExpectedOwner(ctx, rq); err != nil {
		return err
	}
	return op.serve(g, ctx, w, rq)
}

// authenticate verifies r's signature, Version 4 or Version 2, and returns
// what its handler reads the body through.
func (g *Gateway) authenticate(r *http.Request) (*sigv4.Result, error) {
	if !sigv2.Present(r) {
		return g.verifier.Verify(r)
	}
	ak, err := g.v2.Verify(r, g.virtualHostBucket(r.Host))
	if err != nil {
		return nil, err
	}
	res, err := sigv4.UnsignedBody(r)
	if err != nil {
		return nil, err
	}
	res.AccessKey = ak
	return res, nil
}

// route splits the request into bucket and key. The key comes from the
// unescaped path verbatim: "a//b" and "a/" are distinct valid keys, so the
// path is never cleaned.
func (g *Gateway) route(r *http.Request) (bucket, key string) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	if b := g.virtualHostBucket(r.Host); b != "" {
		return b, path
	}
	bucket, key, _ = strings.Cut(path, "/")
	return bucket, key
}

// virtualHostBucket returns the bucket named by a "<bucket>.<suffix>" Host,
// or "" for path-style requests.
func (g *Gateway) virtualHostBucket(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, s := range g.cfg.VirtualHostSuffixes {
		if b, ok := strings.CutSuffix(host, "."+strings.ToLower(s)); ok && b != "" {
			return b
		}
	}
	return ""
}

// writeError answers with the S3 error for err. Server-side failures are
// logged with the request ID, since the client sees only a generic message.
func (g *Gateway) writeError(w http.ResponseWriter, rq *request, err error) {
	e := s3err.FromError(err)
	rq.errCode = e.Code
	attrs := []any{"request_id", rq.id, "method", rq.r.Method, "bucket", rq.bucket, "key", rq.key, "code", e.Code, "err", err}
	if e.Status >= http.StatusInternalServerError {
		g.log.Error("s3 request failed", attrs...)
	} else {
		g.log.Debug("s3 request rejected", attrs...)
	}
	resource := rq.r.URL.Path
	s3err.WriteXML(w, rq.r, e, resource, rq.id)
}

// newRequestID returns a unique request ID in AWS's shape: 16 upper-case
// hex digits.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

func newHostID() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}
