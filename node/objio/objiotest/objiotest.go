// Package objiotest provides in-process fakes for testing code that stores
// bodies through objio: Server, a real gRPC storage server that keeps shards
// in memory and can be stopped, corrupted or made to fail; Maps, a settable
// cluster map; and Cluster, which ties N servers to a Maps.
//
// It is imported only from _test.go files.
package objiotest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/cairn-io/cairn/placement"
)

// Maps is an in-memory objio.Maps. Suspected nodes are reported down, like
// clustermap.Cache does, until Unsuspect.
type Maps struct {
	mu struct {
		sync.Mutex
		m         placement.Map
		addrs     map[placement.NodeID]string
		suspects  map[placement.NodeID]bool
		suspected []placement.NodeID
		// fullDrives are drives suspected of being full: inactive in Map.
		fullDrives map[placement.DriveID]bool
	}
}

// NewMaps returns an empty map.
func NewMaps() *Maps {
	m := &Maps{}
	m.mu.addrs = map[placement.NodeID]string{}
	m.mu.suspects = map[placement.NodeID]bool{}
	m.mu.fullDrives = map[placement.DriveID]bool{}
	return m
}

// AddNode adds an up node with one drive, DriveID(id), at addr.
func (m *Maps) AddNode(id placement.NodeID, addr string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.m.Epoch++
	m.mu.m.Nodes = append(m.mu.m.Nodes, placement.Node{ID: id, Up: true, Drives: []placement.Drive{
		{ID: DriveID(id), CapacityBytes: 1 << 40, FreeBytes: 1 << 40, Active: true},
	}})
	m.mu.addrs[id] = addr
}

// DriveID names the one drive of a test node.
func DriveID(node placement.NodeID) placement.DriveID { return placement.DriveID(string(node) + "-d0") }

// Map implements objio.Maps.
func (m *Maps) Map() placement.Map {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := placement.Map{Epoch: m.mu.m.Epoch}
	for _, n := range m.mu.m.Nodes {
		if m.mu.suspects[n.ID] {
			n.Up = false
		}
		drives := make([]placement.Drive, len(n.Drives))
		for i, d := range n.Drives {
			if m.mu.fullDrives[d.ID] {
				d.Active = false
			}
			drives[i] = d
		}
		n.Drives = drives
		out.Nodes = append(out.Nodes, n)
	}
	return out
}

// Addr implements objio.Maps.
func (m *Maps) Addr(id placement.NodeID) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.mu.addrs[id]
	return a, ok
}

// Suspect implements objio.Maps; the duration is ignored.
func (m *Maps) Suspect(id placement.NodeID, _ time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.suspects[id] = true
	m.mu.suspected = append(m.mu.suspected, id)
}

// SuspectDrive implements objio.DriveSuspecter; the duration is ignored.
func (m *Maps) SuspectDrive(id placement.DriveID, _ time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.fullDrives[id] = true
}

// SuspectedDrives lists the drives suspected of being full.
func (m *Maps) SuspectedDrives() []placement.DriveID {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []placement.DriveID
	for d := range m.mu.fullDrives {
		out = append(out, d)
	}
	return out
}

// Unsuspect clears every suspicion.
func (m *Maps) Unsuspect() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.mu.suspects)
	clear(m.mu.fullDrives)
}

// Suspected lists every Suspect call's node, in order.
func (m *Maps) Suspected() []placement.NodeID {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]placement.NodeID(nil), m.mu.suspected...)
}

// Cluster is n Servers registered in a Maps.
type Cluster struct {
	Servers []*Server
	Maps    *Maps
}

// NewCluster starts n servers named n0, n1, ..., each with opts, and
// registers them.
func NewCluster(tb testing.TB, n int, opts ...grpc.ServerOption) *Cluster {
	tb.Helper()
	c := &Cluster{Maps: NewMaps()}
	for i := range n {
		s := StartServer(tb, placement.NodeID(fmt.Sprintf("n%d", i)), opts...)
		c.Servers = append(c.Servers, s)
		c.Maps.AddNode(s.ID, s.Addr)
	}
	return c
}

// Server returns the server of node id, or nil.
func (c *Cluster) Server(id string) *Server {
	for _, s := range c.Servers {
		if string(s.ID) == id {
			return s
		}
	}
	return nil
}

// ShardCount is the number of committed shards across all servers.
func (c *Cluster) ShardCount() int {
	n := 0
	for _, s := range c.Servers {
		n += len(s.Shards())
	}
	return n
}
