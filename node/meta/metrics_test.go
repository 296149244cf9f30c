package meta

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestReady(t *testing.T) {
	tests := []struct {
		name       string
		voters, up int
		wantReady  bool
	}{
		{"single voter leads", 1, 1, true},
		{"one of three voters: no quorum, no leader", 3, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCluster(t, tc.voters, tc.up, nil)
			n := c.nodes[0].node
			if tc.wantReady {
				c.waitLeader()
				require.NoError(t, n.Ready(t.Context()))
				return
			}
			require.ErrorIs(t, n.Ready(t.Context()), ErrNotReady)
		})
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := newTestCluster(t, 1, 1, func(_ int, cfg *Config) { cfg.Metrics = reg })
	leader := c.waitLeader()
	ctx := ctxTimeout(t, 30*time.Second)
	_, err := leader.node.Propose(ctx, createBucketCmd("b"))
	require.NoError(t, err)

	require.Positive(t, testutil.ToFloat64(prometheusGauge(t, reg, "cairn_meta_raft_leader")))
	require.Positive(t, testutil.ToFloat64(prometheusGauge(t, reg, "cairn_meta_raft_applied_index")))
	n, err := testutil.GatherAndCount(reg, "cairn_meta_apply_duration_seconds", "cairn_meta_pebble_disk_usage_bytes", "cairn_meta_gc_backlog_entries")
	require.NoError(t, err)
	require.Equal(t, 3, n)
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)
}

// prometheusGauge gathers the single unlabelled series name from reg as a
// collector testutil.ToFloat64 can read.
func prometheusGauge(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			require.Len(t, mf.GetMetric(), 1)
			return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: "copy"}, func() float64 {
				return mf.GetMetric()[0].GetGauge().GetValue()
			})
		}
	}
	t.Fatalf("%s not gathered", name)
	return nil
}
