package observe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// checkTimeout bounds one readiness check: a probe must answer even when
// the thing it asks about hangs.
const checkTimeout = 2 * time.Second

// Check reports whether one role of the process can serve; a nil error
// means ready, otherwise the error says why not.
type Check struct {
	Role string
	Fn   func(ctx context.Context) error
}

// NewRegistry returns a process's registry with the Go runtime and process
// collectors (memory, goroutines, CPU, open files) on it.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves the admin endpoints of a process:
//
//	/metrics  the series gathered from g, in Prometheus text format
//	/healthz  200 "ok": the process is alive and serving HTTP
//	/readyz   200 when every check passes, else 503; one line per role
func Handler(g prometheus.Gatherer, checks []Check) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		code, body := Ready(r.Context(), checks)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		_, _ = fmt.Fprint(w, body)
	})
	return mux
}

// Ready runs checks and returns the HTTP status and body of /readyz:
// 200 when all pass (or there are none), 503 when any fails.
func Ready(ctx context.Context, checks []Check) (int, string) {
	code := http.StatusOK
	var b strings.Builder
	for _, c := range checks {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		err := c.Fn(cctx)
		cancel()
		if err != nil {
			code = http.StatusServiceUnavailable
			fmt.Fprintf(&b, "%s: not ready: %v\n", c.Role, err)
			continue
		}
		fmt.Fprintf(&b, "%s: ready\n", c.Role)
	}
	if len(checks) == 0 {
		b.WriteString("ready\n")
	}
	return code, b.String()
}

// maxProbeBody bounds what Probe reads of an answer: /healthz and /readyz
// answer a line per role.
const maxProbeBody = 4 << 10

// ErrBadProbe marks a probe that could not be made at all: an address
// that is not host:port.
var ErrBadProbe = errors.New("observe: bad probe address")

// Probe asks the admin listener at addr (host:port) for path (/healthz or
// /readyz) and returns the HTTP status and the start of the body. The
// caller's ctx bounds the call.
func Probe(ctx context.Context, addr, path string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return 0, "", fmt.Errorf("%w: %w", ErrBadProbe, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProbeBody))
	return resp.StatusCode, string(body), err
}
