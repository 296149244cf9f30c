package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// WorkloadConfig shapes the clients' load.
type WorkloadConfig struct {
	Bucket  string
	Clients int           // concurrent clients, default 4
	Keys    int           // keys k00.., default 12
	Seed    uint64        // client i draws from (Seed, i)
	Timeout time.Duration // per request, default 20s
	MaxOps  int           // per client, default 20000
	Think   time.Duration // mean pause between a client's requests, default 30ms
}

func (c *WorkloadConfig) withDefaults() WorkloadConfig {
	out := *c
	if out.Clients == 0 {
		out.Clients = 4
	}
	if out.Keys == 0 {
		out.Keys = 12
	}
	if out.Timeout == 0 {
		out.Timeout = 20 * time.Second
	}
	if out.MaxOps == 0 {
		out.MaxOps = 20000
	}
	if out.Think == 0 {
		out.Think = 30 * time.Millisecond
	}
	return out
}

// maxBody bounds what a read accepts: the largest value is 6 MiB.
const maxBody = 6<<20 + 4096

// Keys names the workload's keys.
func Keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("k%02d", i)
	}
	return out
}

// Workload runs concurrent S3 clients over a small key set and records
// every operation in a History.
type Workload struct {
	cfg  WorkloadConfig
	s3   *s3.Client
	hist *History
	stop chan struct{}
	once sync.Once

	largePuts atomic.Int64 // PUTs of more than one stripe in flight
}

// NewWorkload prepares clients on cl, which must not retry on its own
// (a retried conditional PUT would turn "applied" into "412").
func NewWorkload(cfg WorkloadConfig, cl *s3.Client, hist *History) *Workload {
	return &Workload{cfg: cfg.withDefaults(), s3: cl, hist: hist, stop: make(chan struct{})}
}

// Stop asks the clients to stop after their current request.
func (w *Workload) Stop() { w.once.Do(func() { close(w.stop) }) }

// InFlightLargePuts is the number of multi-stripe PUTs being sent now.
func (w *Workload) InFlightLargePuts() int { return int(w.largePuts.Load()) }

// Run runs the clients until Stop, ctx's end or MaxOps each; every client
// has returned when Run does. ctx bounds each request (with Timeout).
func (w *Workload) Run(ctx context.Context) {
	var wg sync.WaitGroup
	keys := Keys(w.cfg.Keys)
	for i := 1; i <= w.cfg.Clients; i++ {
		c := &client{w: w, id: i, keys: keys, known: map[string]known{},
			rng: rand.New(rand.NewPCG(w.cfg.Seed, uint64(i)))}
		wg.Go(func() { c.run(ctx) })
	}
	wg.Wait()
}

type known struct {
	id   ValueID
	etag string
}

type client struct {
	w     *Workload
	id    int
	keys  []string
	rng   *rand.Rand
	seq   uint32
	known map[string]known // the last value this client saw per key
}

func (c *client) run(ctx context.Context) {
	for n := 0; n < c.w.cfg.MaxOps; n++ {
		select {
		case <-c.w.stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		op := c.one(ctx)
		c.w.hist.Add(op)
		pause := time.Duration(c.rng.Int64N(int64(2*c.w.cfg.Think) + 1))
		if op.Outcome == Unknown || op.Outcome == NotSent {
			pause = 200*time.Millisecond + pause // back off while the cluster is unwell
		}
		select {
		case <-c.w.stop:
			return
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
}

// size draws a body size: tiny, small, medium, or more than one 4 MiB stripe.
func (c *client) size() int {
	switch p := c.rng.IntN(100); {
	case p < 35:
		return c.rng.IntN(200)
	case p < 70:
		return 1<<10 + c.rng.IntN(63<<10)
	case p < 90:
		return 64<<10 + c.rng.IntN(960<<10)
	default:
		return 4<<20 + 1 + c.rng.IntN(2<<20-1)
	}
}

func (c *client) one(ctx context.Context) Op {
	key := c.keys[c.rng.IntN(len(c.keys))]
	kind := OpGet
	switch p := c.rng.IntN(100); {
	case p < 40:
	case p < 65:
		kind = OpPut
	case p < 75:
		kind = OpPutIfAbsent
	case p < 90:
		kind = OpPutIfMatch
	default:
		kind = OpDelete
	}
	k, haveETag := c.known[key]
	if kind == OpPutIfMatch && !haveETag {
		kind = OpPutIfAbsent
	}
	op := Op{Client: c.id, Kind: kind, Key: key}
	var body []byte
	if kind.IsWrite() && kind != OpDelete {
		c.seq++
		op.Value = MakeValueID(uint32(c.id), c.seq)
		body = Body(key, op.Value, c.size())
		op.Size = len(body)
	}
	if kind == OpPutIfMatch {
		op.Match = k.id
	}
	rctx, cancel := context.WithTimeout(ctx, c.w.cfg.Timeout)
	defer cancel()
	op.Call = c.w.hist.Now()
	switch kind {
	case OpGet:
		c.get(rctx, &op)
	case OpDelete:
		_, err := c.w.s3.DeleteObject(rctx, &s3.DeleteObjectInput{Bucket: &c.w.cfg.Bucket, Key: &key})
		c.finish(&op, err)
		if op.Outcome == OK {
			delete(c.known, key)
		}
	default:
		in := &s3.PutObjectInput{Bucket: &c.w.cfg.Bucket, Key: &key, Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))}
		switch kind {
		case OpPutIfAbsent:
			in.IfNoneMatch = aws.String("*")
		case OpPutIfMatch:
			in.IfMatch = aws.String(k.etag)
		}
		large := len(body) > 4<<20
		if large {
			c.w.largePuts.Add(1)
		}
		out, err := c.w.s3.PutObject(rctx, in)
		if large {
			c.w.largePuts.Add(-1)
		}
		c.finish(&op, err)
		if op.Outcome == OK {
			c.known[key] = known{id: op.Value, etag: aws.ToString(out.ETag)}
		}
	}
	return op
}

func (c *client) get(ctx context.Context, op *Op) {
	out, err := c.w.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &c.w.cfg.Bucket, Key: &op.Key})
	if err != nil {
		c.finish(op, err)
		if op.Outcome == NoSuchKey { // a read of a missing key: the key is absent
			op.Outcome, op.Value = OK, Absent
			delete(c.known, op.Key)
		} else if op.Outcome == PreconditionFailed {
			op.Outcome = Unknown
		}
		return
	}
	b, err := io.ReadAll(io.LimitReader(out.Body, maxBody+1))
	out.Body.Close()
	op.Return = c.w.hist.Now()
	if err != nil {
		op.Outcome, op.Err = Unknown, fmt.Sprintf("read body after %d bytes: %v", len(b), err)
		return
	}
	op.Size = len(b)
	op.Outcome = OK
	id, verr := Verify(op.Key, b)
	if verr != nil {
		op.Corrupt = verr.Error()
		return
	}
	op.Value = id
	c.known[op.Key] = known{id: id, etag: aws.ToString(out.ETag)}
}

func (c *client) finish(op *Op, err error) {
	op.Return = c.w.hist.Now()
	op.Outcome = Classify(err)
	if err != nil {
		op.Err = err.Error()
	}
}

// httpStatus is implemented by the SDK's response errors.
type httpStatus interface{ HTTPStatusCode() int }

// Classify turns a request's error into what the client knows: a 412 or
// 404 answer is definite; a refused connection means nothing was sent;
// everything else (timeouts, 5xx, connections lost after sending, other
// answers) leaves the outcome unknown.
func Classify(err error) Outcome {
	if err == nil {
		return OK
	}
	// The SDK reports a failure to send as a response error of status 0.
	var hs httpStatus
	if errors.As(err, &hs) && hs.HTTPStatusCode() != 0 {
		switch hs.HTTPStatusCode() {
		case http.StatusPreconditionFailed:
			return PreconditionFailed
		case http.StatusNotFound:
			return NoSuchKey
		}
		return Unknown
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return NotSent
	}
	return Unknown
}
