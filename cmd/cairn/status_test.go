package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

func fixedMap(storage2Up bool) *metapb.ClusterMap {
	return &metapb.ClusterMap{Nodes: []*metapb.Node{
		{NodeId: "storage-2", Addr: "h2:1", Up: storage2Up, Version: "v1", Drives: []*metapb.Drive{
			{DriveId: "d2a", CapacityBytes: 1000, FreeBytes: 400},
		}},
		{NodeId: "storage-1", Addr: "h1:1", Up: true, Version: "v1", Drives: []*metapb.Drive{
			{DriveId: "d1a", CapacityBytes: 1000, FreeBytes: 900},
			{DriveId: "d1b", CapacityBytes: 500, FreeBytes: 500, State: metapb.DriveState_DRIVE_DRAINING},
		}},
	}}
}

func fixedVoters() []voterAnswer {
	return []voterAnswer{
		{addr: "m1:1", resp: &metapb.StatusResponse{NodeId: "meta-1", RaftState: "Leader", LeaderId: "meta-1", AppliedIndex: 42, Version: "v1"}},
		{addr: "m2:1", resp: &metapb.StatusResponse{NodeId: "meta-2", RaftState: "Follower", LeaderId: "meta-1", AppliedIndex: 41, Version: "v1"}},
	}
}

func TestBuildStatus(t *testing.T) {
	atRisk := &metapb.HealStatusResponse{AtRisk: []*metapb.RiskLevel{{Surviving: 5, DataShards: 4, ParityShards: 2, Bodies: 3}}, GcBacklog: 7}
	tests := []struct {
		name     string
		voters   []voterAnswer
		m        *metapb.ClusterMap
		heal     *metapb.HealStatusResponse
		healErr  error
		problems []string
	}{
		{"healthy", fixedVoters(), fixedMap(true), &metapb.HealStatusResponse{GcBacklog: 7}, nil, []string{}},
		{"node down", fixedVoters(), fixedMap(false), &metapb.HealStatusResponse{}, nil, []string{"storage node storage-2 down"}},
		{"data at risk", fixedVoters(), fixedMap(true), atRisk, nil, []string{"3 bodies below full redundancy"}},
		{"voter unreachable, no leader", []voterAnswer{{addr: "m1:1", err: errors.New("refused")}}, fixedMap(true), nil, errors.New("unavailable"),
			[]string{"meta m1:1 unreachable", "no meta leader", "repair status unavailable"}},
		{"faulty drive", fixedVoters(), &metapb.ClusterMap{Nodes: []*metapb.Node{{NodeId: "s", Up: true, Drives: []*metapb.Drive{{DriveId: "d", State: metapb.DriveState_DRIVE_FAILED, Fault: "EIO"}}}}},
			&metapb.HealStatusResponse{}, nil, []string{"drive d of s faulty"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := buildStatus(tc.voters, tc.m, tc.heal, tc.healErr)
			require.Equal(t, tc.problems, st.Problems)
			require.Equal(t, len(tc.problems) == 0, st.Healthy)
		})
	}
}

func TestStatusFigures(t *testing.T) {
	st := buildStatus(fixedVoters(), fixedMap(true), &metapb.HealStatusResponse{GcBacklog: 7}, nil)
	require.Equal(t, "meta-1", st.Leader)
	require.Equal(t, []string{"storage-1", "storage-2"}, []string{st.Nodes[0].ID, st.Nodes[1].ID}, "sorted by ID")
	require.Equal(t, uint64(2500), st.CapacityBytes)
	require.Equal(t, uint64(1800), st.FreeBytes)
	require.Equal(t, uint64(700), st.UsedBytes)
	require.Equal(t, "draining", st.Nodes[0].Drives[1].State)
	require.Equal(t, uint64(600), st.Nodes[1].Drives[0].UsedBytes)
	require.Equal(t, uint64(7), st.GCBacklog)

	// JSON keeps the documented field names.
	b, err := json.Marshal(st)
	require.NoError(t, err)
	var generic map[string]any
	require.NoError(t, json.Unmarshal(b, &generic))
	for _, k := range []string{"healthy", "problems", "leader", "voters", "nodes", "capacity_bytes", "used_bytes", "free_bytes", "bodies_at_risk", "gc_backlog"} {
		require.Contains(t, generic, k)
	}
}

func TestRenderStatus(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, renderStatus(&buf, buildStatus(fixedVoters(), fixedMap(false), &metapb.HealStatusResponse{GcBacklog: 7}, nil)))
	want := `cluster: UNHEALTHY
  - storage node storage-2 down

meta: leader meta-1
  ID      ADDRESS  RAFT STATE  APPLIED  VERSION
  meta-1  m1:1     Leader      42       v1
  meta-2  m2:1     Follower    41       v1

storage: 2 nodes, 700 B used of 2.4 KiB, 1.8 KiB free
  NODE       STATE  DRIVE  DRIVE STATE  USED   FREE   VERSION
  storage-1  up     d1a    active       100 B  900 B  v1
                    d1b    draining     0 B    500 B  
  storage-2  down   d2a    active       600 B  400 B  v1

data: 0 bodies at risk, 0 B to rebuild
repair: 0 B rebuilt, 0 B/s
gc: 7 entries queued
`
	require.Equal(t, want, buf.String())
}
