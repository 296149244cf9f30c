package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-io/cairn/node/gateway/s3err"
)

// The live trace (`cairn admin trace`) is served on the S3 listener under a
// path no bucket can have (bucket names start with a letter or a digit), so
// it needs no listener of its own and is authenticated like any S3 request:
// signed with SigV4 by the root credentials, because it shows every
// caller's requests.
const (
	traceBucket = "_cairn"
	traceKey    = "admin/trace"
	// TracePath is the path `cairn admin trace` asks for.
	TracePath = "/" + traceBucket + "/" + traceKey
	opTrace   = "AdminTrace"
)

// traceBuffer is how many events a slow subscriber may fall behind before
// events are dropped for it (and counted): a trace never slows requests.
const traceBuffer = 1024

// traceKeepalive is how often an idle trace stream writes an empty line,
// so that a client or proxy sees the connection alive and a vanished client
// is noticed by the failed write.
const traceKeepalive = 15 * time.Second

// TraceEvent is one finished S3 request, as a trace subscriber receives it
// (one JSON object per line).
type TraceEvent struct {
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	Op        string    `json:"op"`
	Method    string    `json:"method"`
	Bucket    string    `json:"bucket,omitempty"`
	Key       string    `json:"key,omitempty"`
	Status    int       `json:"status"`
	Error     string    `json:"error,omitempty"`
	BytesIn   int64     `json:"bytes_in"`
	BytesOut  int64     `json:"bytes_out"`
	Duration  float64   `json:"duration_ms"`
	AccessKey string    `json:"access_key"`
	Remote    string    `json:"remote"`
	// Dropped, on a line of its own, counts events this subscriber missed
	// because it read too slowly.
	Dropped int64 `json:"dropped,omitempty"`
}

// traceFilter selects the events a subscriber wants.
type traceFilter struct {
	errorsOnly bool
	bucket     string
	op         string
}

func (f traceFilter) match(ev *TraceEvent) bool {
	if f.errorsOnly && ev.Status < 400 {
		return false
	}
	if f.bucket != "" && ev.Bucket != f.bucket {
		return false
	}
	if f.op != "" && !strings.EqualFold(ev.Op, f.op) {
		return false
	}
	return true
}

type traceSub struct {
	filter  traceFilter
	ch      chan TraceEvent
	dropped atomic.Int64
}

// traceHub fans finished requests out to the live trace subscribers. With
// none, publishing costs one atomic load.
type traceHub struct {
	n    atomic.Int32
	mu   sync.Mutex
	subs map[*traceSub]struct{}
}

func (h *traceHub) active() bool { return h.n.Load() > 0 }

func (h *traceHub) subscribe(f traceFilter) *traceSub {
	s := &traceSub{filter: f, ch: make(chan TraceEvent, traceBuffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[*traceSub]struct{}{}
	}
	h.subs[s] = struct{}{}
	h.n.Store(int32(len(h.subs)))
	return s
}

func (h *traceHub) unsubscribe(s *traceSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
	h.n.Store(int32(len(h.subs)))
}

// publish never blocks: a subscriber whose buffer is full misses ev.
func (h *traceHub) publish(ev TraceEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if !s.filter.match(&ev) {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			s.dropped.Add(1)
		}
	}
}

func isTraceRequest(rq *request) bool {
	return rq.bucket == traceBucket && rq.key == traceKey
}

// serveTrace streams finished requests as JSON lines until the client goes
// away. Query parameters filter: errors=true, bucket=NAME, op=GetObject.
func (g *Gateway) serveTrace(ctx context.Context, w http.ResponseWriter, rq *request) error {
	if !rq.caller.Root {
		return s3err.AccessDenied.WithMessage("the live trace is for the root credentials")
	}
	if rq.r.Method != http.MethodGet {
		return s3err.MethodNotAllowed
	}
	q := rq.r.URL.Query()
	sub := g.trace.subscribe(traceFilter{
		errorsOnly: q.Get("errors") == "true",
		bucket:     q.Get("bucket"),
		op:         q.Get("op"),
	})
	defer g.trace.unsubscribe(sub)

	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		return nil
	}
	enc := json.NewEncoder(w)
	tick := time.NewTicker(traceKeepalive)
	defer tick.Stop()
	var reported int64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if _, err := w.Write([]byte("\n")); err != nil {
				return nil
			}
		case ev := <-sub.ch:
			if err := enc.Encode(&ev); err != nil {
				return nil
			}
			// Write what else is queued before flushing: one syscall for
			// a burst.
			for drained := false; !drained; {
				select {
				case ev := <-sub.ch:
					if err := enc.Encode(&ev); err != nil {
						return nil
					}
				default:
					drained = true
				}
			}
			if d := sub.dropped.Load(); d > reported {
				if err := enc.Encode(&TraceEvent{Time: time.Now().UTC(), Dropped: d - reported}); err != nil {
					return nil
				}
				reported = d
			}
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}
