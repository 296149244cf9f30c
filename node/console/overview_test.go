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
			o := buildOverview(tc.st, tc.stErr, &metapb.ClusterMap{Nodes: tc.nodes}, nil, tc.heal, tc.healErr, now)
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
	o := buildOverview(st, nil, &metapb.ClusterMap{Nodes: []*metapb.Node{up}}, nil, &metapb.HealStatusResponse{AtRisk: []*metapb.RiskLevel{{Surviving: 5, DataShards: 4, ParityShards: 2, Bodies: 3}}}, nil, now)
	require.Equal(t, uint64(100), o.Capacity)
	require.Equal(t, uint64(60), o.Used)
	require.Equal(t, uint64(3), o.Heal.BodiesAtRisk)
	require.Equal(t, []RiskLevel{{Surviving: 5, Of: 6, Bodies: 3}}, o.Heal.Levels)
	require.Equal(t, "meta-1", o.Leader)
}
