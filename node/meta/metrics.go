package meta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// gcCountLimit caps the GC backlog a scrape counts.
const gcCountLimit = 100000

// metrics are the meta node's series, registered on Config.Metrics. The
// apply histogram moves on the write path; Raft, Pebble, repair and GC
// figures are read when scraped.
type metrics struct {
	apply prometheus.Histogram
}

// newMetrics registers after raft and the FSM are open (the collector reads
// them). A registration conflict costs the series, not the node: it is
// logged.
func newMetrics(reg prometheus.Registerer, n *Node, log *slog.Logger) *metrics {
	m := &metrics{apply: prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "cairn_meta_apply_duration_seconds",
		Help:    "Time from handing a command to Raft on the leader until the state machine applied it.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
	})}
	if reg == nil {
		return m
	}
	for _, c := range []prometheus.Collector{m.apply, &collector{n: n}} {
		if err := reg.Register(c); err != nil {
			log.Warn("meta metrics not registered", "err", err)
		}
	}
	return m
}

func gauge(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descTerm        = gauge("cairn_meta_raft_term", "Current Raft term.")
	descLeader      = gauge("cairn_meta_raft_leader", "1 when this node is the Raft leader.")
	descHasLeader   = gauge("cairn_meta_raft_has_leader", "1 when this node knows a Raft leader.")
	descState       = gauge("cairn_meta_raft_state", "1 for this node's Raft state.", "state")
	descCommit      = gauge("cairn_meta_raft_commit_index", "Raft commit index.")
	descApplied     = gauge("cairn_meta_raft_applied_index", "Raft index last applied to the state machine.")
	descLastLog     = gauge("cairn_meta_raft_last_log_index", "Index of the last entry in the Raft log.")
	descLastContact = gauge("cairn_meta_raft_last_contact_seconds", "Seconds since a follower last heard from the leader (0 on the leader).")

	descPebbleDisk       = gauge("cairn_meta_pebble_disk_usage_bytes", "Disk space used by the state machine's Pebble database.")
	descPebbleL0Files    = gauge("cairn_meta_pebble_l0_files", "Files in Pebble's level 0 (a growing count means compaction falls behind).")
	descPebbleCompDebt   = gauge("cairn_meta_pebble_compaction_debt_bytes", "Pebble's estimated compaction debt.")
	descPebbleMemtable   = gauge("cairn_meta_pebble_memtable_bytes", "Size of Pebble's memtables.")
	descPebbleReadAmp    = gauge("cairn_meta_pebble_read_amplification", "Pebble's read amplification.")
	descPebbleCacheHits  = prometheus.NewDesc("cairn_meta_pebble_block_cache_hits_total", "Pebble block cache hits.", nil, nil)
	descPebbleCacheMiss  = prometheus.NewDesc("cairn_meta_pebble_block_cache_misses_total", "Pebble block cache misses.", nil, nil)
	descGCBacklog        = gauge("cairn_meta_gc_backlog_entries", "Entries on the GC queue (counted up to 100000).")
	descRepairRunning    = gauge("cairn_meta_repair_active", "1 on the leader, whose repairer runs.")
	descRepairPaused     = gauge("cairn_meta_repair_paused", "1 when repair is paused by an operator.")
	descRepairAtRisk     = gauge("cairn_meta_repair_bodies_at_risk", "Bodies missing shards, by surviving shards past k (0: one more loss loses data).", "margin")
	descRepairBacklog    = gauge("cairn_meta_repair_backlog_bytes", "Bytes of shards the repairer still has to rebuild.")
	descRepairRebuilt    = prometheus.NewDesc("cairn_meta_repair_rebuilt_bytes_total", "Bytes of shards rebuilt since this node became leader.", nil, nil)
	descRepairShards     = prometheus.NewDesc("cairn_meta_repair_rebuilt_shards_total", "Shards rebuilt since this node became leader.", nil, nil)
	descRepairFailures   = prometheus.NewDesc("cairn_meta_repair_failures_total", "Repairs that failed since this node became leader.", nil, nil)
	descScrubReported    = prometheus.NewDesc("cairn_meta_scrub_verified_shards_total", "Shards storage nodes reported verified by scrub, since this node became leader.", nil, nil)
	descScrubDamage      = prometheus.NewDesc("cairn_meta_scrub_damage_found_total", "Damaged shards storage nodes reported by scrub, since this node became leader.", nil, nil)
	descRepairRate       = gauge("cairn_meta_repair_rate_bytes_per_second", "Recent repair rate.")
	collectorDescriptors = []*prometheus.Desc{
		descTerm, descLeader, descHasLeader, descState, descCommit, descApplied, descLastLog, descLastContact,
		descPebbleDisk, descPebbleL0Files, descPebbleCompDebt, descPebbleMemtable, descPebbleReadAmp, descPebbleCacheHits, descPebbleCacheMiss,
		descGCBacklog, descRepairRunning, descRepairPaused, descRepairAtRisk, descRepairBacklog, descRepairRebuilt, descRepairShards,
		descRepairFailures, descScrubReported, descScrubDamage, descRepairRate,
	}
)

// collector reads Raft, Pebble, GC and repair figures at scrape time.
type collector struct{ n *Node }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range collectorDescriptors {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	n := c.n
	put := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
	}
	st := n.raft.Stats()
	num := func(k string) float64 {
		v, _ := strconv.ParseUint(st[k], 10, 64)
		return float64(v)
	}
	put(descTerm, prometheus.GaugeValue, num("term"))
	put(descCommit, prometheus.GaugeValue, num("commit_index"))
	put(descApplied, prometheus.GaugeValue, num("applied_index"))
	put(descLastLog, prometheus.GaugeValue, num("last_log_index"))
	state := n.raft.State()
	put(descLeader, prometheus.GaugeValue, b2f(state == raft.Leader))
	addr, _ := n.raft.LeaderWithID()
	put(descHasLeader, prometheus.GaugeValue, b2f(addr != ""))
	for _, s := range []raft.RaftState{raft.Follower, raft.Candidate, raft.Leader, raft.Shutdown} {
		put(descState, prometheus.GaugeValue, b2f(state == s), s.String())
	}
	var contact float64
	if state != raft.Leader {
		if t := n.raft.LastContact(); !t.IsZero() {
			contact = time.Since(t).Seconds()
		}
	}
	put(descLastContact, prometheus.GaugeValue, contact)

	if pm, err := n.fsm.Metrics(); err == nil {
		put(descPebbleDisk, prometheus.GaugeValue, float64(pm.DiskSpaceUsage()))
		put(descPebbleL0Files, prometheus.GaugeValue, float64(pm.Levels[0].NumFiles))
		put(descPebbleCompDebt, prometheus.GaugeValue, float64(pm.Compact.EstimatedDebt))
		put(descPebbleMemtable, prometheus.GaugeValue, float64(pm.MemTable.Size))
		put(descPebbleReadAmp, prometheus.GaugeValue, float64(pm.ReadAmp()))
		put(descPebbleCacheHits, prometheus.CounterValue, float64(pm.BlockCache.Hits))
		put(descPebbleCacheMiss, prometheus.CounterValue, float64(pm.BlockCache.Misses))
	}
	if k, _, err := n.fsm.CountGC(gcCountLimit); err == nil {
		put(descGCBacklog, prometheus.GaugeValue, float64(k))
	}

	r := n.repairer.Load()
	put(descRepairRunning, prometheus.GaugeValue, b2f(r != nil))
	if r == nil {
		return
	}
	hs := r.Status()
	put(descRepairPaused, prometheus.GaugeValue, b2f(hs.GetPaused()))
	atRisk := map[string]float64{}
	for _, l := range hs.GetAtRisk() {
		margin := int(l.GetSurviving()) - int(l.GetDataShards())
		atRisk[strconv.Itoa(margin)] += float64(l.GetBodies())
	}
	for m, v := range atRisk {
		put(descRepairAtRisk, prometheus.GaugeValue, v, m)
	}
	put(descRepairBacklog, prometheus.GaugeValue, float64(hs.GetBytesToRebuild()))
	put(descRepairRebuilt, prometheus.CounterValue, float64(hs.GetBytesRebuilt()))
	put(descRepairShards, prometheus.CounterValue, float64(hs.GetShardsRebuilt()))
	put(descRepairFailures, prometheus.CounterValue, float64(hs.GetRepairFailures()))
	put(descScrubReported, prometheus.CounterValue, float64(hs.GetScrubShardsVerified()))
	put(descScrubDamage, prometheus.CounterValue, float64(hs.GetScrubDamageFound()))
	put(descRepairRate, prometheus.GaugeValue, hs.GetRateBytesPerSecond())
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// ErrNotReady marks a meta node that cannot serve: it knows no leader.
var ErrNotReady = errors.New("meta: not ready")

// Ready reports whether the node can serve requests: it is the leader or
// knows one (followers forward to it).
func (n *Node) Ready(context.Context) error {
	if n.closed() {
		return fmt.Errorf("%w: closed", ErrNotReady)
	}
	if addr, _ := n.raft.LeaderWithID(); addr == "" {
		return fmt.Errorf("%w: no raft leader known (state %s)", ErrNotReady, n.raft.State())
	}
	return nil
}
