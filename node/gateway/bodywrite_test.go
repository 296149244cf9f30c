package gateway

import (
	"context"
	"crypto/md5"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/gateway/checksum"
	"github.com/cairn-io/cairn/node/gateway/s3err"
)

// TestWriteVerified checks the shared write phase of every body-storing
// request: it returns a verified body, or an error and no shards.
func TestWriteVerified(t *testing.T) {
	const data = "hello, shards"
	goodMD5 := md5.Sum([]byte(data))
	crc := checksum.CRC32
	h := crc.New()
	_, _ = io.WriteString(h, data)
	goodCRC := checksum.Encode(h.Sum(nil))
	errStore := errors.New("drive on fire")
	tests := []struct {
		name     string
		body     io.Reader
		size     int64
		post     *postLimits
		wantMD5  []byte
		sent     *sentChecksum
		storeErr error
		want     *s3err.Error // nil: success
	}{
		{name: "plain", body: strings.NewReader(data), size: int64(len(data))},
		{name: "digests match", body: strings.NewReader(data), size: int64(len(data)), wantMD5: goodMD5[:], sent: &sentChecksum{alg: crc, value: goodCRC}},
		{name: "post length from the end", body: strings.NewReader(data), size: -1, post: &postLimits{min: 1, max: 100}},
		{name: "post below the minimum", body: strings.NewReader(data), size: -1, post: &postLimits{min: 100, max: 200}, want: s3err.EntityTooSmall},
		{name: "bad md5", body: strings.NewReader(data), size: int64(len(data)), wantMD5: make([]byte, 16), want: s3err.BadDigest},
		{name: "bad checksum", body: strings.NewReader(data), size: int64(len(data)), sent: &sentChecksum{alg: crc, value: "AAAAAA=="}, want: s3err.BadDigest},
		{name: "short body", body: strings.NewReader(data), size: int64(len(data)) + 5, want: s3err.IncompleteBody},
		{name: "long body", body: strings.NewReader(data + "!"), size: int64(len(data)), want: s3err.IncompleteBody},
		{name: "store fails", body: strings.NewReader(data), size: int64(len(data)), storeErr: errStore, want: s3err.InternalError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bodies := newFakeBodies()
			bodies.failWrites(tc.storeErr)
			g := &Gateway{cfg: Config{Bodies: bodies}, log: slog.New(slog.DiscardHandler), metrics: newMetrics(nil)}
			rq := &request{id: "test"}
			stored, err := g.writeVerified(context.Background(), rq, bodyWrite{
				src:     &exactReader{r: tc.body, remaining: tc.size},
				size:    tc.size,
				post:    tc.post,
				profile: testProfile,
				wantMD5: tc.wantMD5,
				sent:    tc.sent,
			})
			if tc.want == nil {
				require.NoError(t, err)
				require.Equal(t, int64(len(data)), stored.size)
				require.Equal(t, goodMD5[:], stored.plainMD5)
				require.Equal(t, 1, bodies.live())
				return
			}
			require.Error(t, err)
			require.Nil(t, stored)
			got := s3err.FromError(err)
			require.Equal(t, tc.want.Code, got.Code, "%v", err)
			require.Equal(t, tc.want.Status, got.Status)
			require.Zero(t, bodies.live(), "a failed write left shards")
			if tc.storeErr != nil {
				require.ErrorIs(t, err, tc.storeErr)
			}
		})
	}
}

var _ bodySource = (*exactReader)(nil)
var _ bodySource = (*copyReader)(nil)
