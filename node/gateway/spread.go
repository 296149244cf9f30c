package gateway

import (
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/proto/metapb"
)

// reportUnderSpread tells Config.OnUnderSpread of every body cmd committed
// with several shards on one node. This gateway's map lacked nodes when it
// placed them (not yet seen, or suspect after a failure), but the leader's
// may have them: reported, the repairer spreads the body at once instead
// of at its next periodic scan. Call it only once cmd has committed.
func (g *Gateway) reportUnderSpread(cmd *metapb.Command) {
	f := g.cfg.OnUnderSpread
	if f == nil {
		return
	}
	check := func(dataID string, shards []*metapb.ShardPlacement) {
		if _, doubled := objio.FirstDoubled(shards); doubled && dataID != "" {
			f(dataID, shards)
		}
	}
	switch op := cmd.GetOp().(type) {
	case *metapb.Command_PutObject:
		v := op.PutObject.GetVersion()
		check(v.GetDataId(), v.GetShards())
		for _, p := range v.GetParts() {
			check(p.GetDataId(), p.GetShards())
		}
	case *metapb.Command_PutPart:
		p := op.PutPart.GetPart()
		check(p.GetDataId(), p.GetShards())
	}
}
