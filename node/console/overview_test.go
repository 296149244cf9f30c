package console

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/proto/metapb"
)

func TestBuildOverview(t *testing.T) {
	now := time.Unix(1700000000, 0)
	st := &metapb.StatusResponse{LeaderId: "meta-1", Voters: []string{"meta-1", "meta-2", "meta-3"}}
	up := &metapb.Node{NodeId: "s1", Up: true, Drives: []*metapb.Drive{{DriveId: "d1", CapacityBytes: 100, FreeBytes: 40}}}
	tests := []struct {
		name      string
		st        *metapb.StatusResponse
		stErr     error
		nodes     []*metapb.Node
		heal      *metapb.HealStatusResponse
		healErr   error
		healthy   bool
		states    map[string]string
		problems  int
		healError string
	}{
		{name: "healthy", st: st, nodes: []*metapb.Node{up}, heal: &metapb.HealStatusResponse{}, healthy: true, states: map[string]string{"s1": "up"}},
		{name: "silent node is down", st: st, nodes: []*metapb.Node{up, {NodeId: "s2"}}, heal: &metapb.HealStatusResponse{},
			states: map[string]string{"s1": "up", "s2": "down"}, problems: 1},
		{name: "committed down", st: st, nodes: []*metapb.Node{{NodeId: "s2", Up: true, Down: true}}, heal: &metapb.HealStatusResponse{},
			states: map[string]string{"s2": "down"}, problems: 1},
		{name: "pending is no problem", st: st, nodes: []*metapb.Node{up, {NodeId: "s4", Up: true, State: metapb.NodeState_NODE_PENDING}}, heal: &metapb.HealStatusResponse{},
			healthy: true, states: map[string]string{"s1": "up", "s4": "pending"}},
		{name: "draining", st: st, nodes: []*metapb.Node{{NodeId: "s3", Up: true, State: metapb.NodeState_NODE_DRAINING}}, heal: &metapb.HealStatusResponse{},
			healthy: true, states: map[string]string{"s3": "draining"}},
		{name: "faulty drive", st: st, nodes: []*metapb.Node{{NodeId: "s1", Up: true, Drives: []*metapb.Drive{{DriveId: "d", State: metapb.DriveState_DRIVE_FAILED}}}},
			heal: &metapb.HealStatusResponse{}, states: map[string]string{"s1": "up"}, problems: 1},
		{name: "at risk", st: st, nodes: []*metapb.Node{up},
			heal:   &metapb.HealStatusResponse{AtRisk: []*metapb.RiskLevel{{Surviving: 5, DataShards: 4, ParityShards: 2, Bodies: 3}}},
			states: map[string]string{"s1": "up"}, problems: 1},
		{name: "heal refused", st: st, nodes: []*metapb.Node{up}, healErr: status.Error(codes.PermissionDenied, "role"),
			states: map[string]string{"s1": "up"}, problems: 1, healError: "admin role"},
		{name: "no leader", st: &metapb.StatusResponse{}, nodes: []*metapb.Node{up}, heal: &metapb.HealStatusResponse{},
			states: map[string]string{"s1": "up"}, problems: 1},
		{name: "meta unreachable", stErr: errors.New("dial"), nodes: []*metapb.Node{up}, heal: &metapb.HealStatusResponse{},
			states: map[string]string{"s1": "up"}, problems: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := buildOverview(answers{st: tc.st, stErr: tc.stErr, cm: &metapb.ClusterMap{Nodes: tc.nodes}, heal: tc.heal, healErr: tc.healErr,
				mem: &metapb.MembershipStatusResponse{}}, now)
			require.Equal(t, tc.healthy, o.Healthy, o.Problems)
			require.Len(t, o.Problems, tc.problems, o.Problems)
			got := map[string]string{}
			for _, n := range o.Nodes {
				got[n.ID] = n.State
			}
			require.Equal(t, tc.states, got)
			if tc.healError != "" {
				require.Contains(t, o.HealError, tc.healError)
				require.Nil(t, o.Heal)
			}
		})
	}
	o := buildOverview(answers{st: st, cm: &metapb.ClusterMap{Nodes: []*metapb.Node{up}},
		heal: &metapb.HealStatusResponse{AtRisk: []*metapb.RiskLevel{{Surviving: 5, DataShards: 4, ParityShards: 2, Bodies: 3}}}}, now)
	require.Equal(t, uint64(100), o.Capacity)
	require.Equal(t, uint64(60), o.Used)
	require.Equal(t, uint64(3), o.Heal.BodiesAtRisk)
	require.Equal(t, []RiskLevel{{Surviving: 5, Of: 6, Bodies: 3}}, o.Heal.Levels)
	require.Equal(t, "meta-1", o.Leader)
}

func TestBuildOverviewMembership(t *testing.T) {
	now := time.Unix(1700000000, 0)
	st := &metapb.StatusResponse{LeaderId: "meta-1"}
	drive := func(id string, s metapb.DriveState) *metapb.Drive {
		return &metapb.Drive{DriveId: id, CapacityBytes: 100, FreeBytes: 50, State: s}
	}
	nodes := []*metapb.Node{
		{NodeId: "s1", Up: true, Drives: []*metapb.Drive{drive("d1", metapb.DriveState_DRIVE_ACTIVE), drive("d2", metapb.DriveState_DRIVE_DRAINING)}},
		{NodeId: "s2", Up: true, State: metapb.NodeState_NODE_DRAINING},
		{NodeId: "s3", Up: true, State: metapb.NodeState_NODE_DRAINING},
		{NodeId: "s4", Up: true, State: metapb.NodeState_NODE_PENDING},
	}
	tests := []struct {
		name     string
		mem      *metapb.MembershipStatusResponse
		memErr   error
		drains   []DrainInfo
		reb      RebalanceInfo
		memError string
	}{
		{
			name: "drains with progress and one the scan did not list",
			mem: &metapb.MembershipStatusResponse{Scanned: true, Drains: []*metapb.DrainProgress{
				{NodeId: "s2", ShardsLeft: 30, BytesLeft: 300, BytesMoved: 100, RateBytesPerSec: 10, EtaSeconds: 30},
				{NodeId: "s1", DriveId: "d2", ShardsLeft: 1, BytesLeft: 50, BytesMoved: 150, RateBytesPerSec: 5, EtaSeconds: 10},
			}, Rebalance: &metapb.RebalanceState{Running: true, BandPercent: 5}, RebalanceBytesMoved: 4096, RebalanceRateBytesPerSec: 512},
			drains: []DrainInfo{
				{Node: "s1", Drive: "d2", ShardsLeft: 1, BytesLeft: 50, BytesMoved: 150, Rate: 5, ETASeconds: 10, Fraction: 0.75},
				{Node: "s2", ShardsLeft: 30, BytesLeft: 300, BytesMoved: 100, Rate: 10, ETASeconds: 30, Fraction: 0.25},
				{Node: "s3", NoneLeft: true},
			},
			reb: RebalanceInfo{Running: true, BandPercent: 5, BytesMoved: 4096, Rate: 512},
		},
		{
			name: "before the first scan only listed drains",
			mem: &metapb.MembershipStatusResponse{Drains: []*metapb.DrainProgress{
				{NodeId: "s2", Lost: true, ShardsLeft: 3, BytesLeft: 30, EtaSeconds: -1},
			}, Balanced: true},
			drains: []DrainInfo{{Node: "s2", ShardsLeft: 3, BytesLeft: 30, ETASeconds: -1, Lost: true}},
			reb:    RebalanceInfo{BandPercent: defaultBandPercent, Balanced: true},
		},
		{
			name:     "refused by role",
			memErr:   status.Error(codes.PermissionDenied, "role"),
			memError: "admin role",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := buildOverview(answers{st: st, cm: &metapb.ClusterMap{Nodes: nodes}, heal: &metapb.HealStatusResponse{}, mem: tc.mem, memErr: tc.memErr}, now)
			// Draining and pending are no problems; neither is an
			// unavailable membership status.
			require.True(t, o.Healthy, o.Problems)
			require.Equal(t, []string{"s4"}, o.Pending)
			if tc.memError != "" {
				require.Contains(t, o.MembershipError, tc.memError)
				require.Nil(t, o.Membership)
				return
			}
			require.Empty(t, o.MembershipError)
			require.Equal(t, tc.drains, o.Membership.Drains)
			require.Equal(t, tc.reb, o.Membership.Rebalance)
		})
	}
}

func TestOverviewCapacity(t *testing.T) {
	drives := func(n int, capacity, free uint64) []*metapb.Drive {
		var out []*metapb.Drive
		for i := range n {
			out = append(out, &metapb.Drive{DriveId: string(rune('a' + i)), CapacityBytes: capacity, FreeBytes: free})
		}
		return out
	}
	tests := []struct {
		name                   string
		nodes                  []*metapb.Node
		capacity, used, drives uint64
		note                   string
	}{
		{name: "distinct hosts", nodes: []*metapb.Node{
			{NodeId: "s1", Addr: "10.0.0.1:7001", Up: true, Drives: drives(1, 100, 40)},
			{NodeId: "s2", Addr: "10.0.0.2:7001", Up: true, Drives: drives(1, 100, 40)},
		}, capacity: 200, used: 120, drives: 2},
		{name: "one host, different sizes", nodes: []*metapb.Node{
			{NodeId: "s1", Addr: "10.0.0.1:7001", Up: true, Drives: []*metapb.Drive{{DriveId: "a", CapacityBytes: 100}, {DriveId: "b", CapacityBytes: 200}}},
		}, capacity: 300, used: 300, drives: 2},
		{name: "one machine, one filesystem", nodes: []*metapb.Node{
			{NodeId: "s1", Addr: "127.0.0.1:7001", Up: true, Drives: drives(2, 1000, 600)},
			{NodeId: "s2", Addr: "127.0.0.1:7002", Up: true, Drives: drives(1, 1000, 590)},
		}, capacity: 3000, used: 1210, drives: 3, note: "3 of the 3 drives report the same filesystem size"},
		{name: "pending node not counted", nodes: []*metapb.Node{
			{NodeId: "s1", Addr: "10.0.0.1:7001", Up: true, Drives: drives(1, 100, 40)},
			{NodeId: "s9", Addr: "10.0.0.1:7002", Up: true, State: metapb.NodeState_NODE_PENDING, Drives: drives(1, 100, 100)},
		}, capacity: 100, used: 60, drives: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := buildOverview(answers{st: &metapb.StatusResponse{LeaderId: "m"}, cm: &metapb.ClusterMap{Nodes: tc.nodes}}, time.Unix(0, 0))
			require.Equal(t, tc.capacity, o.Capacity)
			require.Equal(t, tc.used, o.Used)
			require.Equal(t, int(tc.drives), o.Drives)
			if tc.note == "" {
				require.Empty(t, o.CapacityNote)
			} else {
				require.Contains(t, o.CapacityNote, tc.note)
			}
		})
	}
}
