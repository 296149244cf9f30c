// Package observe holds what every role shares to be seen from outside: the
// request ID that follows one S3 request from the gateway through meta and
// storage (gRPC metadata x-cairn-request-id, a context value, a slog
// handler that adds it to log lines), the gRPC client and server
// interceptors that count calls by method and code and time them, and the
// admin HTTP handler that serves /metrics, /healthz and /readyz.
//
// Nothing here is global: metrics are registered on the prometheus
// Registerer a caller passes in (one Registry per process), so two
// processes in one test binary never share a series.
//
// Imports: gRPC and the prometheus client only; it knows nothing of the
// roles, which hand in their readiness as Check functions.
package observe
