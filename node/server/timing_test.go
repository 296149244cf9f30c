package server

import (
	"testing"

	"github.com/cairn-io/cairn/node/meta"
	"github.com/cairn-io/cairn/node/storage"
)

// TestHeartbeatFitsNodeTimeout: the storage role's default heartbeat
// interval is derived from the meta role's default node timeout, which the
// two packages cannot share: four beats fit in one timeout, so a live node
// is served as up even when three beats in a row are lost or late.
func TestHeartbeatFitsNodeTimeout(t *testing.T) {
	if beats := meta.DefaultNodeTimeout / storage.DefaultHeartbeatInterval; beats < 4 {
		t.Fatalf("%d heartbeats of %v in the node timeout of %v, want at least 4",
			beats, storage.DefaultHeartbeatInterval, meta.DefaultNodeTimeout)
	}
}
