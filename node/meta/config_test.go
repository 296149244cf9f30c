package meta

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	peers := []Peer{
		{ID: "a", RaftAddr: "10.0.0.1:7000", GRPCAddr: "10.0.0.1:7001"},
		{ID: "b", RaftAddr: "10.0.0.2:7000", GRPCAddr: "10.0.0.2:7001"},
		{ID: "c", RaftAddr: "10.0.0.3:7000", GRPCAddr: "10.0.0.3:7001"},
	}
	valid := func() Config {
		return Config{NodeID: "a", DataDir: "d", RaftBind: "0.0.0.0:7000", Peers: peers}
	}
	tests := []struct {
		name    string
		mutate  func(c *Config)
		wantErr bool
	}{
		{name: "valid", mutate: func(*Config) {}},
		{name: "single voter", mutate: func(c *Config) { c.Peers = peers[:1] }},
		{name: "no node ID", mutate: func(c *Config) { c.NodeID = "" }, wantErr: true},
		{name: "no data dir", mutate: func(c *Config) { c.DataDir = "" }, wantErr: true},
		{name: "no raft bind", mutate: func(c *Config) { c.RaftBind = "" }, wantErr: true},
		{name: "no peers", mutate: func(c *Config) { c.Peers = nil }, wantErr: true},
		{name: "self not a peer", mutate: func(c *Config) { c.NodeID = "z" }, wantErr: true},
		{name: "duplicate ID", mutate: func(c *Config) {
			c.Peers = append([]Peer{}, peers...)
			c.Peers[1].ID = "a"
		}, wantErr: true},
		{name: "duplicate raft address", mutate: func(c *Config) {
			c.Peers = append([]Peer{}, peers...)
			c.Peers[1].RaftAddr = peers[0].RaftAddr
		}, wantErr: true},
		{name: "peer without gRPC address", mutate: func(c *Config) {
			c.Peers = append([]Peer{}, peers...)
			c.Peers[2].GRPCAddr = ""
		}, wantErr: true},
		{name: "unadvertisable raft address", mutate: func(c *Config) {
			c.Peers = append([]Peer{}, peers...)
			c.Peers[0].RaftAddr = "0.0.0.0:7000"
		}, wantErr: true},
		{name: "raft address without port", mutate: func(c *Config) {
			c.Peers = append([]Peer{}, peers...)
			c.Peers[0].RaftAddr = "10.0.0.1"
		}, wantErr: true},
		{name: "negative node timeout", mutate: func(c *Config) { c.NodeTimeout = -time.Second }, wantErr: true},
		{name: "negative GC interval", mutate: func(c *Config) { c.GCInterval = -time.Second }, wantErr: true},
		{name: "negative orphan grace", mutate: func(c *Config) { c.OrphanGrace = -time.Second }, wantErr: true},
		{name: "negative sweep interval", mutate: func(c *Config) { c.SweepInterval = -time.Second }, wantErr: true},
		{name: "node down-after below the node timeout", mutate: func(c *Config) { c.NodeTimeout, c.NodeDownAfter = 10*time.Second, 5*time.Second }, wantErr: true},
		{name: "short node down-after", mutate: func(c *Config) { c.NodeTimeout, c.NodeDownAfter = time.Second, 2*time.Second }},
		{name: "hashicorp's raft timeouts", mutate: func(c *Config) {
			c.RaftHeartbeatTimeout, c.RaftElectionTimeout, c.RaftLeaderLeaseTimeout = time.Second, time.Second, 500*time.Millisecond
		}},
		{name: "raft lease beyond heartbeat", mutate: func(c *Config) { c.RaftHeartbeatTimeout, c.RaftLeaderLeaseTimeout = time.Second, 2*time.Second }, wantErr: true},
		{name: "raft election below heartbeat", mutate: func(c *Config) { c.RaftHeartbeatTimeout, c.RaftElectionTimeout = 3*time.Second, 2*time.Second }, wantErr: true},
		{name: "raft timeout below the floor", mutate: func(c *Config) { c.RaftLeaderLeaseTimeout = time.Millisecond }, wantErr: true},
		{name: "negative raft timeout", mutate: func(c *Config) { c.RaftElectionTimeout = -time.Second }, wantErr: true},
		{name: "raft commit timeout below the floor", mutate: func(c *Config) { c.RaftCommitTimeout = time.Millisecond }, wantErr: true},
		{name: "short grace and interval", mutate: func(c *Config) { c.OrphanGrace, c.SweepInterval = time.Second, time.Millisecond }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(&c)
			c.setDefaults()
			err := c.Validate()
			if tt.wantErr {
				require.ErrorIs(t, err, ErrInvalidConfig)
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	var c Config
	c.setDefaults()
	require.Equal(t, DefaultNodeTimeout, c.NodeTimeout)
	require.Equal(t, DefaultGCInterval, c.GCInterval)
	require.Equal(t, 6*time.Hour, c.OrphanGrace)
	require.Equal(t, 10*time.Minute, c.SweepInterval)
	require.Equal(t, 10*time.Minute, c.NodeDownAfter)
	require.Equal(t, []time.Duration{2 * time.Second, 2 * time.Second, time.Second},
		[]time.Duration{c.RaftHeartbeatTimeout, c.RaftElectionTimeout, c.RaftLeaderLeaseTimeout})
	require.Equal(t, DefaultRaftCommitTimeout, c.RaftCommitTimeout)
	// The defaults are ones hashicorp/raft accepts.
	rc := raftConfig(&c, c.Logger)
	rc.LocalID = "a"
	require.NoError(t, raft.ValidateConfig(rc))
	require.NotNil(t, c.Logger)
	require.NotNil(t, c.Now)
}
