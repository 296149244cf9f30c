package observe

import (
	"context"
	"log/slog"
)

// RequestIDKey is the gRPC metadata key that carries the ID of the S3
// request a call serves.
const RequestIDKey = "x-cairn-request-id"

// maxRequestIDLen bounds an ID taken from a peer's metadata, so that a
// confused or hostile caller cannot blow up every log line of the call.
const maxRequestIDLen = 64

type requestIDKey struct{}

// WithRequestID returns ctx carrying request ID id; calls made with it
// through the client interceptors pass id on.
func WithRequestID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request ID ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// LogHandler wraps h so that records logged with a context carrying a
// request ID (InfoContext and the like) get a request_id attribute.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(*logHandler); ok {
		return h
	}
	return &logHandler{h}
}

type logHandler struct{ slog.Handler }

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &logHandler{h.Handler.WithAttrs(as)}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{h.Handler.WithGroup(name)}
}
