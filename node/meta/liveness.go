package meta

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cairn-io/cairn/proto/metapb"
)

// livenessInterval is how often the leader looks for nodes down past their
// grace, NodeDownAfter (and retries a change a heartbeat could not commit;
// every later heartbeat of that node retries it too): a sixtieth of the
// grace, between one and ten seconds, so that a down is committed at most
// that late. Every second, the round (a scan of the map) was a tenth of an
// idle leader's CPU, for a grace of ten minutes.
func livenessInterval(downAfter time.Duration) time.Duration {
	return min(max(time.Second, downAfter/60), 10*time.Second)
}

// defaultFault is the reason recorded for a drive a heartbeat reports
// failed without saying why.
const defaultFault = "reported failed by its storage node"

// sighting is the leader's soft state about one storage node: when it last
// heartbeated (leader's clock) and what it reported then.
type sighting struct {
	at   int64
	node *metapb.Node
}

// liveness is the leader's soft state about storage nodes. Heartbeats
// update it in memory only; it is never replicated. It belongs to one
// leadership term: a node that becomes leader starts with none and gives
// every node one NodeTimeout from Node.leaderSince to check in.
type liveness struct {
	mu struct {
		sync.Mutex
		term  uint64
		nodes map[string]sighting
	}
}

// observe records a heartbeat received in term at now.
func (l *liveness) observe(term uint64, n *metapb.Node, now int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.resetLocked(term)
	l.mu.nodes[n.GetNodeId()] = sighting{at: now, node: n}
}

// forget drops a node's sighting (it was removed from the map), so that
// the liveness loop does not propose a record for it again.
func (l *liveness) forget(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.mu.nodes, id)
}

// view returns the sightings of term (none if the soft state is of
// another term). The sightings are shared and must not be modified.
func (l *liveness) view(term uint64) map[string]sighting {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.term != term {
		return nil
	}
	return copySightings(l.mu.nodes)
}

func (l *liveness) resetLocked(term uint64) {
	if l.mu.term != term || l.mu.nodes == nil {
		l.mu.term = term
		l.mu.nodes = map[string]sighting{}
	}
}

func copySightings(m map[string]sighting) map[string]sighting {
	out := make(map[string]sighting, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// livenessRules are the timings the decisions depend on, in nanoseconds of
// the leader's clock.
type livenessRules struct {
	now, since             int64 // since: when this leader became ready
	nodeTimeout, downAfter int64
	// autoAdmit: a new node's record is active at once, not pending.
	autoAdmit bool
}

// lastSeen is when s was last heard of, as far as this leader knows: never
// before it took over, so that an election does not make every node look
// dead.
func (r livenessRules) lastSeen(s sighting, ok bool) int64 {
	if ok {
		return max(s.at, r.since)
	}
	return r.since
}

func (r livenessRules) up(s sighting, ok bool) bool {
	return r.now-r.lastSeen(s, ok) < r.nodeTimeout
}

// decide returns the commands that bring the committed records in line
// with the soft state: a record for a new or changed node, the states of
// drives that failed or recovered, and node-down changes. It is pure: the
// same inputs give the same commands, in node ID order.
func decide(records []*metapb.Node, seen map[string]sighting, r livenessRules) []*metapb.Command {
	byID := make(map[string]*metapb.Node, len(records))
	for _, rec := range records {
		byID[rec.GetNodeId()] = rec
	}
	ids := make([]string, 0, len(seen)+len(records))
	for id := range seen {
		ids = append(ids, id)
	}
	for id := range byID {
		if _, ok := seen[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var out []*metapb.Command
	for _, id := range ids {
		s, ok := seen[id]
		out = append(out, decideNode(byID[id], s, ok, r)...)
	}
	return out
}

// decideNode is decide for one node: rec is its record (nil if none), s
// its sighting if ok.
func decideNode(rec *metapb.Node, s sighting, ok bool, r livenessRules) []*metapb.Command {
	var out []*metapb.Command
	if ok && recordChanged(rec, s.node) {
		nr := recordOf(rec, s.node)
		if rec == nil && !r.autoAdmit {
			// A node never seen joins pending: an operator admits it.
			// The state of a known node is kept by the FSM.
			nr.State = metapb.NodeState_NODE_PENDING
		}
		out = append(out, &metapb.Command{Op: &metapb.Command_NodeHeartbeat{NodeHeartbeat: &metapb.NodeHeartbeat{
			Node: nr, UnixNano: s.at,
		}}})
	} else if ok {
		for _, d := range s.node.GetDrives() {
			cd := driveOf(rec, d.GetDriveId())
			st, fault := desiredDrive(cd, d)
			// A new reason for a drive already failed is served from soft
			// state, not committed: a reason that changes with every
			// heartbeat must not cost an entry each.
			if st != cd.GetState() {
				out = append(out, &metapb.Command{Op: &metapb.Command_SetDriveState{SetDriveState: &metapb.SetDriveState{
					NodeId: rec.GetNodeId(), DriveId: d.GetDriveId(), State: st, Reason: fault,
				}}})
			}
		}
	}
	if rec == nil {
		return out
	}
	switch {
	case rec.GetDown() && ok && r.up(s, ok):
		out = append(out, &metapb.Command{Op: &metapb.Command_SetNodeDown{SetNodeDown: &metapb.SetNodeDown{
			NodeId: rec.GetNodeId(), Down: false, UnixNano: r.now,
		}}})
	case !rec.GetDown() && r.now-r.lastSeen(s, ok) > r.downAfter:
		out = append(out, &metapb.Command{Op: &metapb.Command_SetNodeDown{SetNodeDown: &metapb.SetNodeDown{
			NodeId: rec.GetNodeId(), Down: true, UnixNano: r.now,
		}}})
	}
	return out
}

// recordChanged reports whether a heartbeat changes what the record holds
// for placement: the node is new, or its address, failure domain or set of
// drives differ. Free space is not part of it: it lives in soft state.
func recordChanged(rec, hb *metapb.Node) bool {
	if rec == nil {
		return true
	}
	if rec.GetAddr() != hb.GetAddr() || rec.GetFailureDomain() != hb.GetFailureDomain() {
		return true
	}
	return !slices.Equal(driveIDs(rec), driveIDs(hb))
}

func driveIDs(n *metapb.Node) []string {
	ids := make([]string, 0, len(n.GetDrives()))
	for _, d := range n.GetDrives() {
		ids = append(ids, d.GetDriveId())
	}
	slices.Sort(ids)
	return ids
}

func driveOf(n *metapb.Node, id string) *metapb.Drive {
	for _, d := range n.GetDrives() {
		if d.GetDriveId() == id {
			return d
		}
	}
	return nil
}

// desiredDrive is the state a drive should have given its committed record
// (nil if new) and what its node reports: failed when the node says so;
// active again when a failed drive reports healthy; otherwise the
// committed state, so that an operator's DRAINING stays.
func desiredDrive(committed, reported *metapb.Drive) (metapb.DriveState, string) {
	if reported.GetState() == metapb.DriveState_DRIVE_FAILED {
		fault := reported.GetFault()
		if fault == "" {
			fault = defaultFault
		}
		return metapb.DriveState_DRIVE_FAILED, fault
	}
	if committed == nil || committed.GetState() == metapb.DriveState_DRIVE_FAILED {
		return metapb.DriveState_DRIVE_ACTIVE, ""
	}
	return committed.GetState(), committed.GetFault()
}

// recordOf is the record proposed for a node whose heartbeat changed it:
// what the node reports, with the drive states decided as above and
// without free space, which changes with every write and is served from
// soft state instead.
func recordOf(rec, hb *metapb.Node) *metapb.Node {
	n := &metapb.Node{
		NodeId:        hb.GetNodeId(),
		Addr:          hb.GetAddr(),
		FailureDomain: hb.GetFailureDomain(),
	}
	for _, d := range hb.GetDrives() {
		st, fault := desiredDrive(driveOf(rec, d.GetDriveId()), d)
		n.Drives = append(n.Drives, &metapb.Drive{
			DriveId: d.GetDriveId(), CapacityBytes: d.GetCapacityBytes(), State: st, Fault: fault,
		})
	}
	return n
}

// merge fills the served view of a record from the soft state: up, last
// heartbeat, drive usage and reported drive faults (before their commit).
// A drive not reported this term is served with unknown usage (zero
// capacity and free bytes).
func merge(rec *metapb.Node, s sighting, ok bool, r livenessRules) {
	rec.Up = r.up(s, ok)
	if ok {
		rec.LastHeartbeatUnixNano = s.at
		// Soft state: an upgrade must not cost a commit per node.
		rec.Version = s.node.GetVersion()
	}
	for _, d := range rec.GetDrives() {
		d.CapacityBytes, d.FreeBytes = 0, 0
		if !ok {
			continue
		}
		rd := driveOf(s.node, d.GetDriveId())
		if rd == nil {
			continue
		}
		d.CapacityBytes, d.FreeBytes = rd.GetCapacityBytes(), rd.GetFreeBytes()
		d.State, d.Fault = desiredDrive(d, rd)
	}
}

// rules returns the liveness rules at the current time of this leader.
func (n *Node) rules() livenessRules {
	return livenessRules{
		now:         n.cfg.Now().UnixNano(),
		since:       n.leaderSince.Load(),
		nodeTimeout: n.cfg.NodeTimeout.Nanoseconds(),
		downAfter:   n.cfg.NodeDownAfter.Nanoseconds(),
		autoAdmit:   n.cfg.AutoAdmitNodes,
	}
}

// heartbeat records a heartbeat in the soft state and commits what it
// changes (rarely anything). It runs on the leader.
func (n *Node) heartbeat(ctx context.Context, hb *metapb.Node) (*metapb.HeartbeatResponse, error) {
	hb = proto.CloneOf(hb)
	// Only this node's record is read, not the whole map: a steady beat
	// costs three key lookups on the leader.
	rec, removed, epoch, err := n.fsm.NodeRecord(hb.GetNodeId())
	if err != nil {
		return nil, err
	}
	if removed {
		return nil, status.Errorf(codes.FailedPrecondition, "meta: heartbeat: storage node %q was removed from the cluster (cairn admin node remove); it cannot rejoin under this ID", hb.GetNodeId())
	}
	n.live.observe(n.raft.CurrentTerm(), hb, n.cfg.Now().UnixNano())
	// The node has just been seen, so only its record, its drives and a
	// return from down can change here; the liveness loop decides downs.
	r := n.rules()
	cmds := decideNode(rec, sighting{at: r.now, node: hb}, true, r)
	if len(cmds) == 0 {
		return &metapb.HeartbeatResponse{Epoch: epoch}, nil
	}
	if err := n.commitAll(ctx, cmds); err != nil {
		return nil, err
	}
	if _, _, epoch, err = n.fsm.NodeRecord(hb.GetNodeId()); err != nil {
		return nil, err
	}
	return &metapb.HeartbeatResponse{Epoch: epoch}, nil
}

// commitAll applies cmds on this leader, in order.
func (n *Node) commitAll(ctx context.Context, cmds []*metapb.Command) error {
	for _, cmd := range cmds {
		data, err := proto.Marshal(cmd)
		if err != nil {
			return fmt.Errorf("encode command: %w", err)
		}
		res, err := n.apply(ctx, data)
		if err != nil {
			return err
		}
		if res.GetCode() != metapb.ErrorCode_OK {
			return fmt.Errorf("%w: %s: %s", errRejected, res.GetCode(), res.GetMessage())
		}
		n.log.Info("liveness change committed", "command", describe(cmd))
	}
	return nil
}

// describe renders a liveness command for the log.
func describe(cmd *metapb.Command) string {
	switch op := cmd.Op.(type) {
	case *metapb.Command_NodeHeartbeat:
		return fmt.Sprintf("record of node %s (%d drives)", op.NodeHeartbeat.GetNode().GetNodeId(), len(op.NodeHeartbeat.GetNode().GetDrives()))
	case *metapb.Command_SetNodeDown:
		return fmt.Sprintf("node %s down=%t", op.SetNodeDown.GetNodeId(), op.SetNodeDown.GetDown())
	case *metapb.Command_SetDriveState:
		c := op.SetDriveState
		return fmt.Sprintf("drive %s/%s %s %s", c.GetNodeId(), c.GetDriveId(), c.GetState(), c.GetReason())
	default:
		return fmt.Sprintf("%T", cmd.Op)
	}
}

// runLiveness commits node-down changes while this node leads, until ctx
// ends (Close).
func (n *Node) runLiveness(ctx context.Context) {
	n.whileLeading(ctx, livenessInterval(n.cfg.NodeDownAfter), func(ctx context.Context) {
		if err := n.reconcileLiveness(ctx); err != nil {
			n.log.Warn("liveness round failed; retrying next round", "err", err)
		}
	})
}

// reconcileLiveness runs one round of the liveness loop on the leader.
func (n *Node) reconcileLiveness(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, defaultOpTimeout)
	defer cancel()
	if err := n.ensureReady(ctx); err != nil {
		return fmt.Errorf("meta: liveness: %w", err)
	}
	m, err := n.fsm.ClusterMap()
	if err != nil {
		return fmt.Errorf("meta: liveness: %w", err)
	}
	cmds := decide(m.GetNodes(), n.live.view(n.readyTerm.Load()), n.rules())
	if err := n.commitAll(ctx, cmds); err != nil {
		return fmt.Errorf("meta: liveness: %w", err)
	}
	return nil
}

// ensureReady makes sure this leader has completed the barrier of its
// term, which sets leaderSince: the liveness decisions and the served map
// count from it.
func (n *Node) ensureReady(ctx context.Context) error {
	if n.readyTerm.Load() == n.raft.CurrentTerm() {
		return nil
	}
	return n.linearize(ctx)
}
