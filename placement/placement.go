package placement

import (
	"errors"
	"fmt"
	"slices"
)

// MaxShards bounds k+m; it matches the largest Reed-Solomon code in use.
const MaxShards = 256

var (
	// ErrInsufficient reports that the healthy part of the map cannot hold
	// a stripe even under-spread. Gateways answer it with 503 SlowDown.
	ErrInsufficient = errors.New("placement: not enough healthy drives")
	// ErrInvalid reports bad arguments or an inconsistent map.
	ErrInvalid = errors.New("placement: invalid argument")
)

// NodeID names a storage node.
type NodeID string

// DriveID names a drive, unique within its node.
type DriveID string

// Drive is one drive of a node as the cluster map sees it.
type Drive struct {
	ID            DriveID
	CapacityBytes uint64
	FreeBytes     uint64
	// Active is false when the drive is draining or failed.
	Active bool
}

// Node is one storage node of the cluster map.
type Node struct {
	ID NodeID
	// Domain is the failure domain (rack, room, ...); empty means the node
	// shares a failure domain with no other node.
	Domain string
	// Up: the node heartbeated within the node timeout.
	Up bool
	// Down: the node was committed down, silent past its grace; its
	// shards are being re-protected elsewhere.
	Down     bool
	Draining bool
	Drives   []Drive
}

// Map is the part of the cluster map placement needs.
type Map struct {
	Epoch uint64
	Nodes []Node
	// Reserve is the free space every drive keeps back: a drive below it
	// takes no new shards. The zero Reserve excludes only drives with no
	// free space at all.
	Reserve Reserve
}

// Reserve is the free space a drive keeps back from new shards: the larger
// of Bytes and Percent of the drive's capacity. It leaves room for writes
// already placed, for the repairer's rebuilds and for the filesystem's
// own needs, and makes a drive that fills up drop out of placement before
// writes to it fail.
type Reserve struct {
	Bytes   uint64
	Percent float64
}

// DefaultReserve keeps back 1 GiB or 1 % of a drive, whichever is larger:
// 1 GiB covers a few hundred stripes in flight on a small drive, 1 % scales
// that to large drives without stranding much of them.
var DefaultReserve = Reserve{Bytes: 1 << 30, Percent: 1}

// Validate reports a Reserve that cannot apply; errors wrap ErrInvalid.
func (r Reserve) Validate() error {
	if !(r.Percent >= 0 && r.Percent < 100) {
		return fmt.Errorf("%w: reserve of %v%% of a drive", ErrInvalid, r.Percent)
	}
	return nil
}

// floor is the free space below which a drive of capacity is full.
func (r Reserve) floor(capacity uint64) uint64 {
	return max(r.Bytes, uint64(float64(capacity)*r.Percent/100))
}

// Shard is where one shard lives.
type Shard struct {
	Node  NodeID
	Drive DriveID
}

// Result is a placement: Shards[i] holds shard i of every stripe.
type Result struct {
	Shards []Shard
	// UnderSpread is set when some node holds more than one shard.
	UnderSpread bool
}

// candidate is an eligible node.
type candidate struct {
	id     NodeID
	index  int // in Map.Nodes
	hash   uint64
	domain int
	used   int       // shards assigned
	drives []DriveID // usable drives, ranked; filled only once it gets a shard
}

// Choose picks k+mm drives for the object placed under key. It uses only
// nodes that are Up, not Down, not Draining and not in exclude, and on them
// only usable drives: Active, with free space above m.Reserve (or usage
// not reported yet). With at least k+mm such nodes
// every shard gets its own node, spread over as many failure domains as
// possible. With fewer, nodes take several shards but none more than mm and
// the Result is UnderSpread. When even that is impossible (fewer than
// ceil((k+mm)/mm) nodes, or fewer than k when mm is 0) the error wraps
// ErrInsufficient. See the package doc for the algorithm.
func Choose(m Map, key string, k, mm int, exclude ...NodeID) (Result, error) {
	if k < 1 || mm < 0 || k+mm > MaxShards {
		return Result{}, fmt.Errorf("%w: profile %d+%d", ErrInvalid, k, mm)
	}
	n := k + mm
	nodes, domains, err := eligible(m, exclude)
	if err != nil {
		return Result{}, err
	}
	perNode := 1
	if len(nodes) < n {
		if mm == 0 || len(nodes) == 0 {
			return Result{}, fmt.Errorf("%w: %d+%d needs %d nodes, %d eligible (map epoch %d)",
				ErrInsufficient, k, mm, n, len(nodes), m.Epoch)
		}
		if need := (n + mm - 1) / mm; len(nodes) < need {
			return Result{}, fmt.Errorf("%w: %d+%d needs at least %d nodes, %d eligible (map epoch %d)",
				ErrInsufficient, k, mm, need, len(nodes), m.Epoch)
		}
		// The most even spread; at most mm because len(nodes) >= ceil(n/mm).
		perNode = (n + len(nodes) - 1) / len(nodes)
	}
	perDomain := (n + domains - 1) / domains

	keyHash := hashString(key)
	q := newPairQueue(keyHash, nodes, n)
	assigned := make([]int, n)
	for i := range assigned {
		assigned[i] = -1
	}
	domainUsed := make([]int, domains)
	filled := 0
	// Round r lets each node hold up to r shards, so an under-spread stripe
	// fills every node once before any node takes a second shard: counts end
	// up even. Within a round, the first pass spreads over failure domains
	// and the second places what the domain cap left over (few domains, or
	// domains with few nodes).
	for round := 1; round <= perNode && filled < n; round++ {
		for pass := 0; pass < 2 && filled < n; pass++ {
			for idx := 0; filled < n; idx++ {
				p, ok := q.at(idx)
				if !ok {
					break
				}
				c := &nodes[p.node]
				if assigned[p.shard] >= 0 || c.used >= round || (pass == 0 && domainUsed[c.domain] >= perDomain) {
					continue
				}
				assigned[p.shard] = p.node
				c.used++
				domainUsed[c.domain]++
				filled++
			}
		}
	}
	if filled < n {
		// Unreachable while perNode*len(nodes) >= n; kept so a future
		// change cannot silently return a short placement.
		return Result{}, fmt.Errorf("%w: placed %d of %d shards", ErrInsufficient, filled, n)
	}

	res := Result{Shards: make([]Shard, n), UnderSpread: perNode > 1}
	next := make([]int, len(nodes))
	for i, j := range assigned {
		c := &nodes[j]
		if next[j] == 0 {
			c.drives = rankDrives(m.Nodes[c.index], m.Reserve, c.hash, keyHash)
		}
		res.Shards[i] = Shard{Node: c.id, Drive: c.drives[next[j]%len(c.drives)]}
		next[j]++
	}
	return res, nil
}

// eligible returns the nodes that may take shards and the number of failure
// domains among them.
func eligible(m Map, exclude []NodeID) ([]candidate, int, error) {
	type domainKey struct {
		named string
		node  NodeID // set instead of named for a node without a domain
	}
	seen := make(map[NodeID]struct{}, len(m.Nodes))
	domainIndex := map[domainKey]int{}
	out := make([]candidate, 0, len(m.Nodes))
	for i, node := range m.Nodes {
		if _, dup := seen[node.ID]; dup {
			return nil, 0, fmt.Errorf("%w: node %q listed twice in map epoch %d", ErrInvalid, node.ID, m.Epoch)
		}
		seen[node.ID] = struct{}{}
		if !node.Up || node.Down || node.Draining || slices.Contains(exclude, node.ID) ||
			!slices.ContainsFunc(node.Drives, m.Reserve.usable) {
			continue
		}
		dk := domainKey{named: node.Domain}
		if node.Domain == "" {
			dk.node = node.ID
		}
		idx, ok := domainIndex[dk]
		if !ok {
			idx = len(domainIndex)
			domainIndex[dk] = idx
		}
		out = append(out, candidate{id: node.ID, index: i, hash: hashString(string(node.ID)), domain: idx})
	}
	return out, len(domainIndex), nil
}

// usable reports whether d may take new shards. A drive whose usage is
// unknown (no capacity and no free space reported, as after a meta
// leader change, until its node's next heartbeat) is not held back: its
// node refuses a write it has no room for, and the writer places that
// shard elsewhere.
func (r Reserve) usable(d Drive) bool {
	if !d.Active {
		return false
	}
	if d.CapacityBytes == 0 && d.FreeBytes == 0 {
		return true
	}
	return d.FreeBytes > 0 && d.FreeBytes >= r.floor(d.CapacityBytes)
}

// Usable reports whether the drive d of m may take new shards: Active, and
// not below m.Reserve.
func (m Map) Usable(d Drive) bool { return m.Reserve.usable(d) }

// Feasible reports whether a k+mm profile can be placed on m at all, and
// whether it would be under-spread. It lets the cluster refuse a profile it
// cannot place before any write needs it.
func Feasible(m Map, k, mm int) (underSpread bool, err error) {
	r, err := Choose(m, "", k, mm)
	return r.UnderSpread, err
}
