package objio_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/node/objio/objiotest"
	"github.com/cairn-io/cairn/placement"
)

// staleMaps serves a map that knows only two nodes, as a gateway's cache
// does for up to a poll after the cluster starts.
type staleMaps struct {
	*objiotest.Maps
	mu    sync.Mutex
	stale bool
}

func (s *staleMaps) Map() placement.Map {
	m := s.Maps.Map()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stale {
		m.Nodes = m.Nodes[:2]
	}
	return m
}

// refreshingMaps can fetch the current map on demand.
type refreshingMaps struct {
	*staleMaps
	refreshes int
}

func (r *refreshingMaps) Refresh(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stale = false
	r.refreshes++
	return nil
}

func TestPlacementRefreshesAStaleMap(t *testing.T) {
	data := payload(9, 1000)
	t.Run("maps that refresh: the PUT looks again and succeeds", func(t *testing.T) {
		c := objiotest.NewCluster(t, 6)
		maps := &refreshingMaps{staleMaps: &staleMaps{Maps: c.Maps, stale: true}}
		s, _ := newStoreOn(t, c, func(cfg *objio.Config) { cfg.Maps = maps })
		b := put(t, s, small, data)
		require.Equal(t, 1, maps.refreshes)
		requireSame(t, data, readRange(t, s, b, 0, b.Size))
	})
	t.Run("maps that cannot refresh: no placement", func(t *testing.T) {
		c := objiotest.NewCluster(t, 6)
		maps := &staleMaps{Maps: c.Maps, stale: true}
		s, _ := newStoreOn(t, c, func(cfg *objio.Config) { cfg.Maps = maps })
		_, err := s.WriteBody(t.Context(), bytes.NewReader(data), objio.WriteOptions{Profile: small, Size: int64(len(data))})
		require.ErrorIs(t, err, objio.ErrInsufficientDrives)
	})
}
