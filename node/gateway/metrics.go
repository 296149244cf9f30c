package gateway

import (
	"net/http"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// durationBuckets span a HEAD on loopback to a multi-GiB PUT.
var durationBuckets = prometheus.ExponentialBuckets(0.001, 4, 10)

// metrics are the gateway's series, registered on Config.Metrics.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	in, out  *prometheus.CounterVec
	inFlight prometheus.Gauge
	putPhase *prometheus.HistogramVec
}

// newMetrics registers the gateway's series on reg; with a nil reg it
// returns nil, whose methods do nothing, so that a gateway without metrics
// pays nothing for them.
func newMetrics(reg prometheus.Registerer) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_s3_requests_total",
			Help: "S3 requests answered, by operation and HTTP status code.",
		}, []string{"op", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cairn_s3_request_duration_seconds",
			Help:    "Duration of S3 requests from arrival to the end of the response, by operation.",
			Buckets: durationBuckets,
		}, []string{"op"}),
		in: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_s3_received_bytes_total",
			Help: "Request body bytes read from S3 clients, by operation.",
		}, []string{"op"}),
		out: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_s3_sent_bytes_total",
			Help: "Response body bytes written to S3 clients, by operation.",
		}, []string{"op"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cairn_s3_requests_in_flight",
			Help: "S3 requests being served.",
		}),
		putPhase: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cairn_s3_put_phase_duration_seconds",
			Help: "Duration of the phases of a PUT: body (read, hash, encode and write every shard " +
				"until durable), verify (digests and signatures of the whole body) and commit (the meta group's Raft commit).",
			Buckets: durationBuckets,
		}, []string{"phase"}),
	}
	reg.MustRegister(m.requests, m.duration, m.in, m.out, m.inFlight, m.putPhase)
	return m
}

// begin and end bracket a request.
func (m *metrics) begin() {
	if m != nil {
		m.inFlight.Inc()
	}
}

func (m *metrics) end(op string, code int, in, out int64, d time.Duration) {
	if m == nil {
		return
	}
	m.inFlight.Dec()
	m.requests.WithLabelValues(op, strconv.Itoa(code)).Inc()
	m.duration.WithLabelValues(op).Observe(d.Seconds())
	m.in.WithLabelValues(op).Add(float64(in))
	m.out.WithLabelValues(op).Add(float64(out))
}

// PUT phases, the label values of cairn_s3_put_phase_duration_seconds.
const (
	phaseBody   = "body"
	phaseVerify = "verify"
	phaseCommit = "commit"
)

// phase observes the time since *start as phase p and moves *start to now.
func (m *metrics) phase(p string, start *time.Time) {
	if m == nil {
		return
	}
	now := time.Now()
	m.putPhase.WithLabelValues(p).Observe(now.Sub(*start).Seconds())
	*start = now
}

// opUnknown labels a request that names no operation (a method not
// allowed, an unimplemented sub-resource).
const opUnknown = "Unknown"

// opName names the S3 operation op serves for metrics and logs, derived
// from its handler so that the route table stays the one list of
// operations: (*Gateway).getObject → GetObject, and HEAD on it HeadObject.
func opName(op operation, method string) string {
	if op.serve == nil {
		return opUnknown
	}
	name := runtime.FuncForPC(reflect.ValueOf(op.serve).Pointer()).Name()
	name = name[strings.LastIndexByte(name, '.')+1:]
	name = strings.TrimSuffix(name, "-fm")
	r, n := utf8.DecodeRuneInString(name)
	name = string(unicode.ToUpper(r)) + name[n:]
	if method == http.MethodHead {
		name = strings.Replace(name, "Get", "Head", 1)
	}
	return name
}

// statusWriter records what a handler answered, for the access log and
// the metrics. Unwrap lets http.ResponseController reach the connection.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
