package gateway

import (
	"context"
	"errors"
	"fmt"
)

// ErrNotReady marks a gateway that cannot serve S3 requests.
var ErrNotReady = errors.New("gateway: not ready")

// Ready reports whether the gateway can serve: the meta group answers a
// cluster-map read (a linearizable read, so it has a leader), the map
// has storage nodes to place shards on, and (with Config.MapCaughtUp)
// the gateway's own copy of the map has caught up with it.
func (g *Gateway) Ready(ctx context.Context) error {
	m, err := g.cfg.Meta.ClusterMap(ctx)
	if err != nil {
		return fmt.Errorf("%w: meta group: %w", ErrNotReady, err)
	}
	if len(m.GetNodes()) == 0 {
		return fmt.Errorf("%w: the cluster map has no storage nodes", ErrNotReady)
	}
	if f := g.cfg.MapCaughtUp; f != nil {
		if err := f(m); err != nil {
			return fmt.Errorf("%w: %w", ErrNotReady, err)
		}
	}
	return nil
}
