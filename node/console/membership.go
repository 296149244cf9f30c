package console

import (
	"fmt"
	"net"
	"sort"

	"github.com/cairn-io/cairn/proto/metapb"
)

// MembershipInfo is the drains and the rebalance, as the meta leader's
// repairer reports them (the figures behind `cairn admin node status`).
type MembershipInfo struct {
	// Scanned is false until the repairer's first complete scan: until
	// then the shards left are not known.
	Scanned   bool          `json:"scanned"`
	Drains    []DrainInfo   `json:"drains"`
	Rebalance RebalanceInfo `json:"rebalance"`
}

// DrainInfo is one draining node (Drive empty) or drive.
type DrainInfo struct {
	Node       string  `json:"node"`
	Drive      string  `json:"drive,omitempty"`
	ShardsLeft uint64  `json:"shardsLeft"`
	BytesLeft  uint64  `json:"bytesLeft"`
	BytesMoved uint64  `json:"bytesMoved"`
	Rate       float64 `json:"rateBytesPerSecond"`
	// ETASeconds is negative when unknown (nothing moved yet).
	ETASeconds float64 `json:"etaSeconds"`
	// Fraction is bytes moved over bytes moved and left: the progress bar.
	Fraction float64 `json:"fraction"`
	// Lost: the node is down, so its shards are rebuilt from the others.
	Lost bool `json:"lost"`
	// NoneLeft: draining in the map, but the repairer's last complete
	// scan listed no shard on it. Either it is drained or its drain began
	// after that scan; `cairn admin node remove` checks again before
	// removing it.
	NoneLeft bool `json:"noneLeft"`
}

// RebalanceInfo is the rebalance's setting and progress.
type RebalanceInfo struct {
	Running     bool    `json:"running"`
	BandPercent float64 `json:"bandPercent"`
	Balanced    bool    `json:"balanced"`
	BytesMoved  uint64  `json:"bytesMoved"`
	Rate        float64 `json:"rateBytesPerSecond"`
}

// defaultBandPercent is the band the rebalance uses when none was set
// (as `cairn admin rebalance start` says).
const defaultBandPercent = 10

// addMembership fills the drains and the rebalance. Draining nodes and
// drives the repairer does not list (it lists only those its last scan
// found shards on) are shown with NoneLeft once it has scanned. An unavailable status blanks
// only its section: drain and rebalance progress says nothing about
// whether the data is safe, so it is not one of the overview's problems.
func addMembership(o *Overview, mem *metapb.MembershipStatusResponse, err error) {
	if err != nil {
		o.MembershipError = explain(err)
		return
	}
	if mem == nil {
		return
	}
	reb := mem.GetRebalance()
	m := &MembershipInfo{Scanned: mem.GetScanned(), Drains: []DrainInfo{}, Rebalance: RebalanceInfo{
		Running: reb.GetRunning(), BandPercent: reb.GetBandPercent(), Balanced: mem.GetBalanced(),
		BytesMoved: mem.GetRebalanceBytesMoved(), Rate: mem.GetRebalanceRateBytesPerSec(),
	}}
	if m.Rebalance.BandPercent == 0 {
		m.Rebalance.BandPercent = defaultBandPercent
	}
	type key struct{ node, drive string }
	listed := map[key]bool{}
	for _, d := range mem.GetDrains() {
		di := DrainInfo{Node: d.GetNodeId(), Drive: d.GetDriveId(), ShardsLeft: d.GetShardsLeft(), BytesLeft: d.GetBytesLeft(),
			BytesMoved: d.GetBytesMoved(), Rate: d.GetRateBytesPerSec(), ETASeconds: d.GetEtaSeconds(), Lost: d.GetLost(), Fraction: 1}
		if total := di.BytesMoved + di.BytesLeft; total > 0 {
			di.Fraction = float64(di.BytesMoved) / float64(total)
		}
		listed[key{di.Node, di.Drive}] = true
		m.Drains = append(m.Drains, di)
	}
	if m.Scanned {
		for _, n := range o.Nodes {
			if n.State == "draining" && !listed[key{n.ID, ""}] {
				m.Drains = append(m.Drains, DrainInfo{Node: n.ID, NoneLeft: true})
			}
			for _, d := range n.Drives {
				if d.State == "draining" && n.State != "draining" && !listed[key{n.ID, d.ID}] {
					m.Drains = append(m.Drains, DrainInfo{Node: n.ID, Drive: d.ID, NoneLeft: true})
				}
			}
		}
	}
	sort.SliceStable(m.Drains, func(i, j int) bool {
		a, b := m.Drains[i], m.Drains[j]
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		return a.Drive < b.Drive
	})
	o.Membership = m
}

// addCapacity sums the drives of the admitted nodes (a pending node takes
// no shards, so its space is not the cluster's yet).
//
// Each drive reports the size and free space of the filesystem it lives
// on, and the map carries nothing that names the filesystem. Drives of one
// host with the same size may be one shared filesystem (a cluster on one
// machine) or identical disks (the usual server), and nothing in the map
// tells them apart, not even equal free space: identical empty disks have
// it too. So the total stays the sum over drives, labelled as such, and
// CapacityNote says when some filesystem may be counted more than once.
func addCapacity(o *Overview) {
	type fs struct {
		host     string
		capacity uint64
	}
	same := map[fs]int{}
	for _, n := range o.Nodes {
		if n.State == "pending" {
			continue
		}
		host, _, err := net.SplitHostPort(n.Addr)
		if err != nil {
			host = n.Addr
		}
		for _, d := range n.Drives {
			o.Capacity += d.Capacity
			o.Free += d.Free
			o.Drives++
			if d.Capacity > 0 {
				same[fs{host, d.Capacity}]++
			}
		}
	}
	o.Used = o.Capacity - o.Free
	shared := 0
	for _, k := range same {
		if k > 1 {
			shared += k
		}
	}
	if shared > 0 {
		o.CapacityNote = fmt.Sprintf("%d of the %d drives report the same filesystem size as another drive on their host: "+
			"if they share one filesystem (as in a cluster on one machine), it is counted once per drive.", shared, o.Drives)
	}
}
