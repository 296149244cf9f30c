package storage

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		return Config{NodeID: "n1", ClusterID: "c1", Addr: "127.0.0.1:9000", Drives: []string{"/a", "/b"}, MetaAddrs: []string{"m:1"}}
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"valid", func(*Config) {}, true},
		{"no meta is allowed", func(c *Config) { c.MetaAddrs = nil }, true},
		{"zero interval takes default", func(c *Config) { c.HeartbeatInterval = 0 }, true},
		{"no node id", func(c *Config) { c.NodeID = "" }, false},
		{"no addr", func(c *Config) { c.Addr = "" }, false},
		{"no cluster id", func(c *Config) { c.ClusterID = "" }, false},
		{"no drives", func(c *Config) { c.Drives = nil }, false},
		{"empty drive", func(c *Config) { c.Drives = []string{""} }, false},
		{"duplicate drive", func(c *Config) { c.Drives = []string{"/a", "/a"} }, false},
		{"empty meta addr", func(c *Config) { c.MetaAddrs = []string{""} }, false},
		{"negative interval", func(c *Config) { c.HeartbeatInterval = -1 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mutate(&c)
			err := c.Validate()
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrConfig)
			_, err = New(c)
			require.ErrorIs(t, err, ErrConfig)
		})
	}

	c := valid()
	d := c.withDefaults()
	require.Equal(t, DefaultHeartbeatInterval, d.HeartbeatInterval)
	require.NotNil(t, d.FS)
	require.NotNil(t, d.Logger)
}
