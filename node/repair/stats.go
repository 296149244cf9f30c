package repair

import (
	"sort"
	"time"

	"github.com/cairn-io/cairn/proto/metapb"
)

// rateWindow is the span of the moving average of the repair rate.
const rateWindow = 30 * time.Second

// minRateSpan is how long repairs must have run before a rate (and so an
// ETA) is given: the first stripes make no estimate worth showing.
const minRateSpan = time.Second

type levelKey struct{ k, m, surviving int }

type level struct {
	bodies uint64
	bytes  int64
}

type sample struct {
	at    time.Time
	bytes int64
}

// figures are the repairer's numbers for HealStatus; guarded by
// Repairer.mu.
type figures struct {
	// last holds the levels of the last complete scan, less the repairs
	// done since; cur those of the scan under way.
	last, cur map[levelKey]*level
	scanning  bool
	lastScan  time.Time

	bytesRebuilt, shardsRebuilt, failures uint64
	window                                []sample
	workStart                             time.Time

	scrubVerified, scrubDamage uint64
}

func (f *figures) count(levels map[levelKey]*level, t *task, sign int64) {
	if t.lostCount() == 0 {
		return
	}
	k := levelKey{k: t.body.k(), m: t.body.m(), surviving: t.surviving}
	l := levels[k]
	if l == nil {
		l = &level{}
		levels[k] = l
	}
	if sign > 0 {
		l.bodies++
		l.bytes += t.bytes
		return
	}
	if l.bodies > 0 {
		l.bodies--
	}
	l.bytes = max(0, l.bytes-t.bytes)
}

// repaired records a task done.
func (f *figures) repaired(t *task, shards int, bytes int64, now time.Time) {
	f.shardsRebuilt += uint64(shards)
	f.bytesRebuilt += uint64(bytes)
	if f.last != nil {
		f.count(f.last, t, -1)
	}
}

// progress records bytes of shards rebuilt (written, not yet committed):
// the rate follows the data as it flows, not the bodies as they finish,
// which would lag behind by a body per worker.
func (f *figures) progress(bytes int64, now time.Time) {
	f.window = append(f.window, sample{at: now, bytes: bytes})
}

// started notes that repairs are under way, for the rate's time base.
func (f *figures) started(now time.Time) {
	f.trim(now)
	if len(f.window) == 0 {
		f.workStart = now
	}
}

func (f *figures) trim(now time.Time) {
	i := 0
	for i < len(f.window) && now.Sub(f.window[i].at) > rateWindow {
		i++
	}
	f.window = f.window[i:]
}

// rate is the bytes rebuilt per second over the last rateWindow (or since
// the work started, if later).
func (f *figures) rate(now time.Time) float64 {
	f.trim(now)
	var sum int64
	for _, s := range f.window {
		sum += s.bytes
	}
	span := min(rateWindow, now.Sub(f.workStart))
	if sum == 0 || span < minRateSpan {
		return 0
	}
	return float64(sum) / span.Seconds()
}

func (f *figures) status(now time.Time, paused bool) *metapb.HealStatusResponse {
	levels := f.last
	if levels == nil {
		levels = f.cur
	}
	resp := &metapb.HealStatusResponse{
		Paused: paused, Scanning: f.scanning,
		BytesRebuilt: f.bytesRebuilt, ShardsRebuilt: f.shardsRebuilt, RepairFailures: f.failures,
		ScrubShardsVerified: f.scrubVerified, ScrubDamageFound: f.scrubDamage,
		EtaSeconds: -1,
	}
	if !f.lastScan.IsZero() {
		resp.LastScanUnixNano = f.lastScan.UnixNano()
	}
	for k, l := range levels {
		if l.bodies == 0 {
			continue
		}
		resp.AtRisk = append(resp.AtRisk, &metapb.RiskLevel{
			Surviving: uint32(k.surviving), DataShards: uint32(k.k), ParityShards: uint32(k.m),
			Bodies: l.bodies, BytesToRebuild: uint64(l.bytes),
		})
		resp.BytesToRebuild += uint64(l.bytes)
	}
	sort.Slice(resp.AtRisk, func(i, j int) bool {
		a, b := resp.AtRisk[i], resp.AtRisk[j]
		ma, mb := int(a.Surviving)-int(a.DataShards), int(b.Surviving)-int(b.DataShards)
		if ma != mb {
			return ma < mb
		}
		if a.DataShards != b.DataShards {
			return a.DataShards < b.DataShards
		}
		return a.ParityShards < b.ParityShards
	})
	resp.RateBytesPerSecond = f.rate(now)
	if resp.RateBytesPerSecond > 0 {
		resp.EtaSeconds = float64(resp.BytesToRebuild) / resp.RateBytesPerSecond
	} else if resp.BytesToRebuild == 0 {
		resp.EtaSeconds = 0
	}
	return resp
}
