package main

import (
	"flag"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConfigFileKeys(t *testing.T) {
	cases := []struct {
		name    string
		yaml    string
		wantErr string
		drives  string
	}{
		{name: "known keys", yaml: "drives: [/a, /b]\nlog-level: debug\n", drives: "/a,/b"},
		{name: "mistyped key", yaml: "drivez: [/a]\n", wantErr: "unknown key(s) drivez"},
		{name: "several unknown, sorted", yaml: "zz: 1\naa: 2\ndrives: [/a]\n", wantErr: "unknown key(s) aa, zz"},
		{name: "config key itself", yaml: "config: other.yaml\n", wantErr: "unknown key(s) config"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cairn.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tc.yaml), 0o600))
			fs := flag.NewFlagSet("server", flag.ContinueOnError)
			drives := fs.String("drives", "", "")
			fs.String("log-level", "info", "")
			fs.String("config", "", "")
			require.NoError(t, fs.Parse([]string{"--config", path}))
			err := applyEnvAndFile(fs)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.drives, *drives)
		})
	}
}

func TestDescribeVersion(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"},
		{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	cases := []struct {
		name, override string
		settings       []debug.BuildSetting
		main, want     string
	}{
		{"module version and revision", "", vcs, "v1.2.3\x00go1.26.8", "cairn v1.2.3 (rev 0123456789ab, 2026-12-01T10:00:00Z, modified) go1.26.8"},
		{"development build", "", nil, "(devel)\x00go1.26.8", "cairn (devel) go1.26.8"},
		{"ldflags override", "v9.9.9", vcs[:1], "(devel)\x00go1.26.8", "cairn v9.9.9 (rev 0123456789ab) go1.26.8"},
		{"no build info", "", nil, "", "cairn (devel)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, describeVersion(tc.override, tc.settings, tc.main))
		})
	}
}
