package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// cairnBin is built once by TestMain, only when a campaign will run.
var cairnBin string

func TestMain(m *testing.M) {
	if !campaignEnabled() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "cairn-chaos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cairnBin = filepath.Join(dir, "cairn")
	build := exec.Command("go", "build", "-o", cairnBin, "github.com/cairn-io/cairn/cmd/cairn")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build cairn:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// campaignEnabled: CHAOS=1, or a duration or episode count is given.
func campaignEnabled() bool {
	return os.Getenv("CHAOS") == "1" || os.Getenv("CHAOS_DURATION") != "" || os.Getenv("CHAOS_EPISODES") != ""
}

// TestCampaign runs a fault campaign against a real cluster and fails when
// an object is lost or corrupted or the history is not linearizable.
//
//	CHAOS=1                 run (default: 4 episodes)
//	CHAOS_SEED=n            the seed (default: random, logged)
//	CHAOS_DURATION=10m      inject faults for this long, or
//	CHAOS_EPISODES=n        run this many episodes
//	CHAOS_HOLD=10s          mean time a fault is held
//	CHAOS_KINDS=a,b         only these fault kinds (see AllKinds)
//	CHAOS_LOOPBACK=1        no namespaces: 127.0.0.x and process faults only
//	CHAOS_JSON=path         also write the report as JSON
//	CHAOS_KEEP=1            keep the working directory (data, logs) after a pass
func TestCampaign(t *testing.T) {
	if !campaignEnabled() {
		t.Skip("set CHAOS=1, CHAOS_DURATION or CHAOS_EPISODES to run the chaos campaign")
	}
	cfg := Config{Binary: cairnBin, Logf: t.Logf}
	var err error
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		cfg.Seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "CHAOS_SEED")
	} else {
		cfg.Seed = rand.Uint64() % 1_000_000_000
	}
	if s := os.Getenv("CHAOS_DURATION"); s != "" {
		cfg.Duration, err = time.ParseDuration(s)
		require.NoError(t, err, "CHAOS_DURATION")
	}
	if s := os.Getenv("CHAOS_EPISODES"); s != "" {
		cfg.Episodes, err = strconv.Atoi(s)
		require.NoError(t, err, "CHAOS_EPISODES")
	}
	if cfg.Duration == 0 && cfg.Episodes == 0 {
		cfg.Episodes = 4
	}
	if s := os.Getenv("CHAOS_HOLD"); s != "" {
		cfg.Hold, err = time.ParseDuration(s)
		require.NoError(t, err, "CHAOS_HOLD")
	}
	cfg.Loopback = os.Getenv("CHAOS_LOOPBACK") == "1"
	if s := os.Getenv("CHAOS_KINDS"); s != "" {
		for _, k := range strings.Split(s, ",") {
			require.Contains(t, AllKinds, Kind(k), "CHAOS_KINDS")
			cfg.Kinds = append(cfg.Kinds, Kind(k))
		}
	}
	cfg.Dir, err = os.MkdirTemp("", "cairn-chaos-")
	require.NoError(t, err)

	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-time.Minute))
		defer cancel()
	}
	c, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("chaos cleanup: %v", err)
		}
		if t.Failed() {
			t.Logf("process logs:\n%s", c.LogTails(40))
			t.Logf("working directory kept: %s (rerun with CHAOS_SEED=%d)", cfg.Dir, cfg.Seed)
			return
		}
		if os.Getenv("CHAOS_KEEP") == "1" {
			t.Logf("working directory kept: %s", cfg.Dir)
			return
		}
		os.RemoveAll(cfg.Dir)
	})

	rep, err := c.Run(ctx)
	require.NoError(t, err, "seed %d", cfg.Seed)
	t.Logf("\n%s", rep.Table())
	if p := os.Getenv("CHAOS_JSON"); p != "" {
		b, err := rep.JSON()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p, b, 0o644))
	}
	for _, f := range rep.Failures() {
		t.Errorf("seed %d: %s", cfg.Seed, f)
	}
}
