package storage

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the storage node's series, registered on Config.Metrics.
// Counters move on the I/O paths; the drive and scrub figures are read
// when scraped (collector), so they cost nothing between scrapes.
type metrics struct {
	written, read *prometheus.CounterVec
	ioErrors      *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, s *Server) (*metrics, error) {
	m := &metrics{
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_storage_shard_written_bytes_total",
			Help: "Shard data bytes made durable, by drive.",
		}, []string{"drive"}),
		read: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_storage_shard_read_bytes_total",
			Help: "Verified shard data bytes sent to readers, by drive.",
		}, []string{"drive"}),
		ioErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_storage_io_errors_total",
			Help: "I/O errors (the kind that count towards marking a drive faulty), by drive.",
		}, []string{"drive"}),
	}
	// Start every drive's series at zero, so that rates exist from the
	// first scrape.
	for _, id := range s.order {
		m.written.WithLabelValues(id)
		m.read.WithLabelValues(id)
		m.ioErrors.WithLabelValues(id)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.written, m.read, m.ioErrors, &collector{s: s}} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("storage: register metrics: %w", err)
		}
	}
	return m, nil
}

var (
	descCapacity = prometheus.NewDesc("cairn_storage_drive_capacity_bytes", "Size of the drive's filesystem.", []string{"drive"}, nil)
	descFree     = prometheus.NewDesc("cairn_storage_drive_free_bytes", "Free bytes on the drive's filesystem.", []string{"drive"}, nil)
	descFaulty   = prometheus.NewDesc("cairn_storage_drive_faulty", "1 when the drive is marked faulty (no new shards go to it).", []string{"drive"}, nil)

	descScrubRunning  = prometheus.NewDesc("cairn_storage_scrub_running", "1 while a scrub pass runs.", nil, nil)
	descScrubPasses   = prometheus.NewDesc("cairn_storage_scrub_passes_total", "Scrub passes completed since the node started.", nil, nil)
	descScrubVerified = prometheus.NewDesc("cairn_storage_scrub_shards_verified_total", "Shards the scrubber read whole.", nil, nil)
	descScrubDamage   = prometheus.NewDesc("cairn_storage_scrub_damage_found_total", "Shards the scrubber found corrupt or unreadable.", nil, nil)
	descScrubBytes    = prometheus.NewDesc("cairn_storage_scrub_read_bytes_total", "Bytes the scrubber read.", nil, nil)
	descScrubPass     = prometheus.NewDesc("cairn_storage_scrub_pass_start_timestamp_seconds", "Start of the current or last scrub pass (0: none yet).", nil, nil)
)

// collector reads drive usage and scrub progress at scrape time.
type collector struct{ s *Server }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descCapacity, descFree, descFaulty, descScrubRunning, descScrubPasses, descScrubVerified, descScrubDamage, descScrubBytes, descScrubPass} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	for _, id := range s.order {
		d := s.drives[id]
		if capacity, free, err := s.cfg.FS.DiskUsage(d.root); err == nil {
			ch <- prometheus.MustNewConstMetric(descCapacity, prometheus.GaugeValue, float64(capacity), id)
			ch <- prometheus.MustNewConstMetric(descFree, prometheus.GaugeValue, float64(free), id)
		}
		faulty, _ := d.health.faulty()
		ch <- prometheus.MustNewConstMetric(descFaulty, prometheus.GaugeValue, b2f(faulty), id)
	}
	st := s.ScrubStats()
	ch <- prometheus.MustNewConstMetric(descScrubRunning, prometheus.GaugeValue, b2f(st.Running))
	ch <- prometheus.MustNewConstMetric(descScrubPasses, prometheus.CounterValue, float64(st.Passes))
	ch <- prometheus.MustNewConstMetric(descScrubVerified, prometheus.CounterValue, float64(st.ShardsVerified))
	ch <- prometheus.MustNewConstMetric(descScrubDamage, prometheus.CounterValue, float64(st.DamageFound))
	ch <- prometheus.MustNewConstMetric(descScrubBytes, prometheus.CounterValue, float64(st.BytesRead))
	var start float64
	if !st.PassStart.IsZero() {
		start = float64(st.PassStart.UnixNano()) / 1e9
	}
	ch <- prometheus.MustNewConstMetric(descScrubPass, prometheus.GaugeValue, start)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// ErrNotReady marks a storage node that cannot take shards.
var ErrNotReady = errors.New("storage: not ready")

// Ready reports whether the node can take new shards: at least one of its
// drives is not faulty. A node whose drives are all faulty still serves
// reads of what survives, but should not be sent writes.
func (s *Server) Ready(context.Context) error {
	var reasons []string
	for _, id := range s.order {
		faulty, reason := s.drives[id].health.faulty()
		if !faulty {
			return nil
		}
		reasons = append(reasons, id+": "+reason)
	}
	return fmt.Errorf("%w: every drive is faulty (%v)", ErrNotReady, reasons)
}
