package gateway

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

// ctxRecordingMeta answers Propose like the fake, but first records whether
// the context it was given had already ended.
type ctxRecordingMeta struct {
	*fakeMeta
	ended bool
}

func (m *ctxRecordingMeta) Propose(ctx context.Context, cmd *metapb.Command) (*metapb.CommandResult, error) {
	m.ended = ctx.Err() != nil
	return m.fakeMeta.Propose(ctx, cmd)
}

// A client that hangs up after its body is durable must not abandon the
// commit: the shards would stay behind with no version to own them.
func TestProposeOutlivesTheRequest(t *testing.T) {
	meta := &ctxRecordingMeta{fakeMeta: newFakeMeta()}
	g := &Gateway{cfg: Config{Meta: meta}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := g.propose(ctx, &metapb.Command{Op: &metapb.Command_CreateBucket{CreateBucket: &metapb.CreateBucket{
		Bucket: &metapb.Bucket{Name: "b", Owner: "o"},
	}}})
	require.NoError(t, err)
	require.False(t, meta.ended, "the proposal ran under the cancelled request context")
}
