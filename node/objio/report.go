package objio

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/proto/metapb"
)

// ReportSink receives damage and under-spread reports: the meta group's repairer
// (metapb.MetaClient implements it).
type ReportSink interface {
	ReportShards(ctx context.Context, in *metapb.ReportShardsRequest, opts ...grpc.CallOption) (*metapb.ReportShardsResponse, error)
}

// Report limits: a burst of degraded reads queues at most reportQueue
// shards (more are dropped: a scrub finds them again), sent in batches of
// at most reportBatch with one call each, bounded by reportTimeout.
const (
	reportQueue   = 1024
	reportBatch   = 256
	reportTimeout = 5 * time.Second
)

// Reporter tells the meta group's repairer about the shards that reads had
// to work around because they were corrupt or missing, so that they are
// rebuilt without waiting for a scrub. Use its OnReadFailure as
// Config.OnReadFailure. It owns one goroutine, stopped by Close.
type Reporter struct {
	sink     ReportSink
	reporter string
	log      *slog.Logger
	ch       chan *metapb.ShardReport
	stop     chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
}

// NewReporter starts a Reporter that sends to sink under the name
// reporter (for the meta group's logs).
func NewReporter(sink ReportSink, reporter string, log *slog.Logger) *Reporter {
	if log == nil {
		log = slog.Default()
	}
	r := &Reporter{sink: sink, reporter: reporter, log: log,
		ch: make(chan *metapb.ShardReport, reportQueue), stop: make(chan struct{})}
	r.wg.Go(r.run)
	return r
}

// healthOf says what a read error proves about a shard. Only corruption
// and absence are reported: an unreachable or slow node is the liveness
// machinery's business, and rebuilding its shards on every timeout would
// move data off a node that is merely restarting.
func healthOf(err error) (metapb.ShardHealth, bool) {
	switch status.Code(err) {
	case codes.DataLoss:
		return metapb.ShardHealth_SHARD_CORRUPT, true
	case codes.NotFound:
		return metapb.ShardHealth_SHARD_MISSING, true
	}
	return 0, false
}

// OnReadFailure queues a report of shard of v's body when err shows it
// corrupt or missing. It never blocks: a full queue drops the report.
func (r *Reporter) OnReadFailure(v *metapb.ObjectVersion, shard int, err error) {
	health, ok := healthOf(err)
	if !ok || shard < 0 || shard >= len(v.GetShards()) {
		return
	}
	sp := v.GetShards()[shard]
	rep := &metapb.ShardReport{
		NodeId: sp.GetNodeId(), DriveId: sp.GetDriveId(), ShardId: ShardID(v.GetDataId(), shard),
		Health: health, Detail: err.Error(),
	}
	select {
	case r.ch <- rep:
	default:
		r.log.Warn("damage report dropped: queue full", "shard", rep.ShardId)
	}
}

// OnUnderSpread queues a request to assess the body dataID when shards
// put several of its shards on one node: call it once the body's record
// is committed (before, the meta group does not know the body). The
// repairer spreads the body at once if its map has a node for every shard,
// which it may well have: a gateway's map can lag the leader's, or keep a
// node out as suspect for a while. The report is a SHARD_OK without a
// digest naming the first shard that shares a node; it never blocks.
func (r *Reporter) OnUnderSpread(dataID string, shards []*metapb.ShardPlacement) {
	i, ok := FirstDoubled(shards)
	if !ok {
		return
	}
	rep := &metapb.ShardReport{
		NodeId: shards[i].GetNodeId(), DriveId: shards[i].GetDriveId(), ShardId: ShardID(dataID, i),
		Health: metapb.ShardHealth_SHARD_OK, Detail: "under-spread",
	}
	select {
	case r.ch <- rep:
	default:
		r.log.Warn("under-spread report dropped: queue full; the next scan finds the body", "shard", rep.ShardId)
	}
}

// FirstDoubled returns the index of the first shard whose node holds an
// earlier shard too; ok is false when every shard has its own node.
func FirstDoubled(shards []*metapb.ShardPlacement) (int, bool) {
	seen := make(map[string]bool, len(shards))
	for i, sh := range shards {
		if seen[sh.GetNodeId()] {
			return i, true
		}
		seen[sh.GetNodeId()] = true
	}
	return 0, false
}

func (r *Reporter) run() {
	for {
		var batch []*metapb.ShardReport
		select {
		case <-r.stop:
			return
		case rep := <-r.ch:
			batch = append(batch, rep)
		}
	more:
		for len(batch) < reportBatch {
			select {
			case rep := <-r.ch:
				batch = append(batch, rep)
			default:
				break more
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), reportTimeout)
		_, err := r.sink.ReportShards(ctx, &metapb.ReportShardsRequest{Reporter: r.reporter, Shards: batch})
		cancel()
		if err != nil {
			r.log.Warn("damage report failed; a scrub will find the shards again", "shards", len(batch), "err", err)
		}
	}
}

// Close stops the goroutine; queued reports are dropped.
func (r *Reporter) Close() {
	r.once.Do(func() { close(r.stop) })
	r.wg.Wait()
}
