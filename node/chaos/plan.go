package chaos

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Kind is a kind of fault.
type Kind string

const (
	KillStorage      Kind = "kill-storage"      // kill -9 a storage node, restart it on heal
	KillMeta         Kind = "kill-meta"         // kill -9 a meta voter (any), restart on heal
	KillMetaLeader   Kind = "kill-meta-leader"  // kill -9 the current meta leader
	KillGateway      Kind = "kill-gateway"      // kill -9 the gateway while PUTs are in flight
	PauseStorage     Kind = "pause-storage"     // SIGSTOP a storage node, SIGCONT on heal
	PauseMeta        Kind = "pause-meta"        // SIGSTOP a meta voter or the leader
	PauseGateway     Kind = "pause-gateway"     // SIGSTOP the gateway
	PartitionMeta    Kind = "partition-meta"    // cut a meta voter (or the leader) off the network
	PartitionStorage Kind = "partition-storage" // a storage node unreachable from the gateway
	Loss             Kind = "loss"              // drop a share of a node's packets
	Delay            Kind = "delay"             // delay (or throttle) a node's packets
	BitFlip          Kind = "bitflip"           // flip bits in shard files of a storage node
	DriveFull        Kind = "drive-full"        // fill the small drive of one storage node
	DriveRemove      Kind = "drive-remove"      // remove a storage node's drive directory
)

// AllKinds lists every kind in a fixed order.
var AllKinds = []Kind{KillStorage, KillMeta, KillMetaLeader, KillGateway, PauseStorage, PauseMeta, PauseGateway,
	PartitionMeta, PartitionStorage, Loss, Delay, BitFlip, DriveFull, DriveRemove}

// Roles of the processes a fault hits.
const (
	RoleStorage = "storage"
	RoleMeta    = "meta"
	RoleGateway = "gateway"
)

// LeaderNode as FaultSpec.Node means the meta leader at the time the fault
// is applied.
const LeaderNode = -1

// FaultSpec is one planned fault.
type FaultSpec struct {
	Kind Kind   `json:"kind"`
	Role string `json:"role"`
	Node int    `json:"node"` // index among the role's nodes, or LeaderNode
}

func (f FaultSpec) String() string {
	switch {
	case f.Node == LeaderNode:
		return fmt.Sprintf("%s(meta leader)", f.Kind)
	case f.Role == RoleGateway:
		return fmt.Sprintf("%s(gateway)", f.Kind)
	default:
		return fmt.Sprintf("%s(%s-%d)", f.Kind, f.Role, f.Node+1)
	}
}

// Episode is one round: its faults are applied together, held for Hold
// under load, then healed.
type Episode struct {
	Index  int           `json:"index"`
	Faults []FaultSpec   `json:"faults"`
	Hold   time.Duration `json:"hold_ns"`
	// Seed drives the choices made when the faults are applied (which
	// shard files to flip, which byte).
	Seed uint64 `json:"seed"`
}

func (e Episode) String() string {
	parts := make([]string, len(e.Faults))
	for i, f := range e.Faults {
		parts[i] = f.String()
	}
	return fmt.Sprintf("episode %d: %s for %v", e.Index+1, strings.Join(parts, " + "), e.Hold.Round(100*time.Millisecond))
}

// PlanConfig says what a plan may contain.
type PlanConfig struct {
	Seed     uint64
	Episodes int
	// Kinds are the kinds available on this machine.
	Kinds        []Kind
	StorageNodes int
	MetaVoters   int
	// FullDriveNode is the storage node (index) whose drive is small enough
	// to fill; -1 when none is (DriveFull is then never planned).
	FullDriveNode int
	// MaxStorageDamaged bounds the storage nodes damaged at once: down,
	// paused, cut off, lossy, full, with flipped bits or a removed drive
	// (permanent until repaired). Default 2, the parity count m.
	MaxStorageDamaged int
	// MaxStorageWriteFaults bounds the storage nodes that cannot take
	// writes at once, so that every PUT still finds k+m distinct nodes.
	// Default 1 (seven storage nodes, k+m = 6).
	MaxStorageWriteFaults int
	// Repair says removed drives are rebuilt after each episode (the
	// caller's WaitRepaired hook); without it their damage stays for the
	// rest of the campaign and at most one drive is removed.
	Repair bool
	// Hold is the mean time a fault is held (each episode: Hold/2 to 3Hold/2).
	Hold time.Duration
	// SecondFault is the chance of a second, compatible fault in an episode.
	SecondFault float64
}

var errBadPlan = errors.New("chaos: bad plan config")

// Plan draws the episodes of a campaign from cfg.Seed. It is a pure
// function: the same config gives the same plan.
func Plan(cfg PlanConfig) ([]Episode, error) {
	if cfg.MaxStorageDamaged == 0 {
		cfg.MaxStorageDamaged = 2
	}
	if cfg.MaxStorageWriteFaults == 0 {
		cfg.MaxStorageWriteFaults = 1
	}
	if cfg.Hold <= 0 {
		cfg.Hold = 10 * time.Second
	}
	switch {
	case cfg.Episodes < 0:
		return nil, fmt.Errorf("%w: %d episodes", errBadPlan, cfg.Episodes)
	case cfg.StorageNodes < 1 || cfg.MetaVoters < 1:
		return nil, fmt.Errorf("%w: %d storage nodes, %d meta voters", errBadPlan, cfg.StorageNodes, cfg.MetaVoters)
	case len(cfg.Kinds) == 0:
		return nil, fmt.Errorf("%w: no fault kinds", errBadPlan)
	}
	kinds := slices.Clone(cfg.Kinds)
	slices.SortFunc(kinds, func(a, b Kind) int { return slices.Index(AllKinds, a) - slices.Index(AllKinds, b) })
	kinds = slices.Compact(kinds)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x706c616e)) // "plan"
	permanent := map[int]bool{}
	removed := 0
	// A shuffled bag of kinds: every kind comes up once before any comes up
	// again (as far as the budget allows), so short campaigns vary.
	var bag []Kind
	var plan []Episode
	for i := 0; i < cfg.Episodes; i++ {
		if cfg.Repair {
			clear(permanent)
		}
		st := episodeState{cfg: &cfg, damaged: map[int]bool{}, removedSoFar: removed}
		for n := range permanent {
			st.damaged[n] = true
		}
		n := 1
		if rng.Float64() < cfg.SecondFault {
			n = 2
		}
		var faults []FaultSpec
		for len(faults) < n {
			if len(bag) == 0 {
				for _, i := range rng.Perm(len(kinds)) {
					bag = append(bag, kinds[i])
				}
			}
			f, ok := st.pick(rng, bag, kinds)
			if !ok {
				break
			}
			if i := slices.Index(bag, f.Kind); i >= 0 {
				bag = slices.Delete(bag, i, i+1)
			}
			faults = append(faults, f)
			if f.Kind == DriveRemove {
				permanent[f.Node] = true
				removed++
			}
		}
		hold := cfg.Hold/2 + time.Duration(rng.Int64N(int64(cfg.Hold)+1))
		plan = append(plan, Episode{Index: i, Faults: faults, Hold: hold, Seed: rng.Uint64()})
	}
	return plan, nil
}

// episodeState is the budget left in one episode.
type episodeState struct {
	cfg          *PlanConfig
	damaged      map[int]bool // storage nodes
	writeFaults  int
	metaUsed     bool
	gatewayUsed  bool
	targeted     map[int]bool // storage nodes hit in this episode
	removedSoFar int
}

// pick draws a feasible fault: the first in bag that fits, else any kind
// that fits; false when none does.
func (st *episodeState) pick(rng *rand.Rand, bag, kinds []Kind) (FaultSpec, bool) {
	order := slices.Clone(bag)
	for _, i := range rng.Perm(len(kinds)) {
		order = append(order, kinds[i])
	}
	for _, k := range order {
		roles := kindRoles(k)
		if len(roles) == 0 {
			continue
		}
		role := roles[rng.IntN(len(roles))]
		f, ok := st.target(rng, k, role)
		if ok {
			return f, true
		}
	}
	return FaultSpec{}, false
}

func kindRoles(k Kind) []string {
	switch k {
	case KillStorage, PauseStorage, PartitionStorage, BitFlip, DriveFull, DriveRemove:
		return []string{RoleStorage}
	case KillMeta, KillMetaLeader, PauseMeta, PartitionMeta:
		return []string{RoleMeta}
	case KillGateway, PauseGateway:
		return []string{RoleGateway}
	case Loss, Delay:
		return []string{RoleStorage, RoleMeta}
	}
	return nil
}

// writeFault reports whether a storage fault keeps the node from taking
// writes (everything but flipped bits).
func writeFault(k Kind) bool { return k != BitFlip }

func (st *episodeState) target(rng *rand.Rand, k Kind, role string) (FaultSpec, bool) {
	cfg := st.cfg
	switch role {
	case RoleGateway:
		if st.gatewayUsed {
			return FaultSpec{}, false
		}
		st.gatewayUsed = true
		return FaultSpec{Kind: k, Role: role}, true
	case RoleMeta:
		if st.metaUsed {
			return FaultSpec{}, false
		}
		node := rng.IntN(cfg.MetaVoters)
		switch k {
		case KillMetaLeader:
			node = LeaderNode
		case PauseMeta, PartitionMeta:
			if rng.IntN(2) == 0 {
				node = LeaderNode
			}
		}
		st.metaUsed = true
		return FaultSpec{Kind: k, Role: role, Node: node}, true
	}
	if writeFault(k) && st.writeFaults >= cfg.MaxStorageWriteFaults {
		return FaultSpec{}, false
	}
	if k == DriveRemove && !cfg.Repair && st.removedSoFar >= 1 {
		return FaultSpec{}, false
	}
	var nodes []int
	for n := 0; n < cfg.StorageNodes; n++ {
		if st.targeted[n] {
			continue
		}
		if k == DriveFull && n != cfg.FullDriveNode {
			continue
		}
		if k == DriveRemove && n == cfg.FullDriveNode {
			continue
		}
		if !st.damaged[n] && len(st.damaged) >= cfg.MaxStorageDamaged {
			continue
		}
		nodes = append(nodes, n)
	}
	if len(nodes) == 0 {
		return FaultSpec{}, false
	}
	n := nodes[rng.IntN(len(nodes))]
	if st.targeted == nil {
		st.targeted = map[int]bool{}
	}
	st.targeted[n] = true
	st.damaged[n] = true
	if writeFault(k) {
		st.writeFaults++
	}
	return FaultSpec{Kind: k, Role: role, Node: n}, true
}
