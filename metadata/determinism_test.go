package metadata

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/proto/metapb"
)

// TestCompleteDeterministic applies the same commands on two FSMs: the
// bodies of unused parts must get the same GC seqs on every replica, since
// AckGC deletes by seq.
func TestCompleteDeterministic(t *testing.T) {
	var cmds []*metapb.Command
	cmds = append(cmds, createBucket("b", "o", unversioned), createUpload("b", "k", "u1", 1))
	for n := uint32(1); n <= 40; n++ {
		cmds = append(cmds, putPart("b", "k", "u1", n, fmt.Sprintf("p%02d", n), 100))
	}
	cmds = append(cmds, complete("b", "k", "u1", "v1", 0, listedPart{1, "p01"}))
	var dumps [][]byte
	for range 2 {
		h := newHarness(t)
		for _, c := range cmds {
			h.mustApply(proto.CloneOf(c))
		}
		dumps = append(dumps, dump(t, h.f))
	}
	require.Equal(t, dumps[0], dumps[1], "replicas diverged")
}
