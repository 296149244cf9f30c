package storage

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestReady(t *testing.T) {
	tests := []struct {
		name    string
		faulty  []bool // per drive
		wantErr bool
	}{
		{"all drives healthy", []bool{false, false}, false},
		{"one drive faulty", []bool{true, false}, false},
		{"every drive faulty", []bool{true, true}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := startServer(t, Config{ScrubInterval: -1})
			for i, id := range e.srv.DriveIDs() {
				if tc.faulty[i] {
					e.srv.drives[id].health.checked(errors.New("drive check: format file is missing"))
				}
			}
			err := e.srv.Ready(t.Context())
			if !tc.wantErr {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrNotReady)
			require.ErrorContains(t, err, "format file is missing")
		})
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := startServer(t, Config{ScrubInterval: -1, Metrics: reg})
	ctx := t.Context()
	ids := e.srv.DriveIDs()
	data := randBytes(7, 10000)
	_, err := writeShard(ctx, e.client, ref(ids[0], "x.0"), 4096, data, 3000)
	require.NoError(t, err)
	got, err := readShard(ctx, e.client, ref(ids[0], "x.0"), 100, 5000)
	require.NoError(t, err)
	require.Len(t, got, 5000)

	m := e.srv.met
	require.Equal(t, float64(len(data)), testutil.ToFloat64(m.written.WithLabelValues(ids[0])))
	require.Equal(t, float64(0), testutil.ToFloat64(m.written.WithLabelValues(ids[1])))
	require.Equal(t, float64(5000), testutil.ToFloat64(m.read.WithLabelValues(ids[0])))

	// The collector reports every drive's usage and the scrubber.
	n, err := testutil.GatherAndCount(reg, "cairn_storage_drive_capacity_bytes", "cairn_storage_drive_free_bytes",
		"cairn_storage_drive_faulty", "cairn_storage_scrub_passes_total")
	require.NoError(t, err)
	require.Equal(t, 3*len(ids)+1, n)
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)
}
