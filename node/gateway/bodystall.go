package gateway

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/cairn-io/cairn/node/gateway/s3err"
)

// DefaultBodyStallTimeout is how long a request body may send nothing
// before the request is cut with 400 RequestTimeout, as S3 does.
const DefaultBodyStallTimeout = 30 * time.Second

// stallBody cuts a request body that makes no progress for d. Every Read
// moves the connection's read deadline to d from now, so the limit is on
// silence, not on the length of the upload: a large body sent slowly but
// steadily is fine, a client that stops sending is not. Time the gateway
// spends not reading (storage applying backpressure) does not count, since
// only a Read waits on the deadline.
//
// Without the cut, a stalled PUT holds its stripe buffers in the gateway and
// its open shard streams (temporary files) on storage nodes for as long as
// the client keeps the connection open.
type stallBody struct {
	io.ReadCloser
	ctl *http.ResponseController
	d   time.Duration
	off bool // the connection does not support read deadlines
	eof bool
}

func newStallBody(w http.ResponseWriter, r *http.Request, d time.Duration) io.ReadCloser {
	if d <= 0 || r.Body == nil || r.Body == http.NoBody {
		return r.Body
	}
	return &stallBody{ReadCloser: r.Body, ctl: http.NewResponseController(w), d: d}
}

func (b *stallBody) Read(p []byte) (int, error) {
	if !b.off {
		// The deadline is on the real clock: it is the network's.
		if err := b.ctl.SetReadDeadline(time.Now().Add(b.d)); err != nil {
			b.off = true
		}
	}
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		b.eof = true
		b.clear()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return n, fmt.Errorf("%w: no request body bytes for %v: %w", s3err.RequestTimeout, b.d, err)
	}
	return n, err
}

// clear lifts the deadline once the body is read: the server's own
// background read, which watches for the client going away, must not time
// out while the handler commits.
func (b *stallBody) clear() {
	if !b.off {
		_ = b.ctl.SetReadDeadline(time.Time{})
	}
}

// done runs when the handler returns. The server then drains what is left
// of an unread body (up to a limit); that drain, too, must not wait on a
// silent client for longer than d.
func (b *stallBody) done() {
	if !b.off && !b.eof {
		_ = b.ctl.SetReadDeadline(time.Now().Add(b.d))
	}
}
