package chaos

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeShard writes a file shaped like a bitrot shard: a 16-byte header
// with the block size at offset 8, then blocks each followed by 4 CRC
// bytes (zeros here: only the layout matters).
func writeShard(t *testing.T, path string, block, data int) []byte {
	t.Helper()
	b := make([]byte, shardHeader)
	copy(b, "CRNS")
	binary.LittleEndian.PutUint32(b[8:12], uint32(block))
	for data > 0 {
		n := min(block, data)
		b = append(b, []byte(strings.Repeat("d", n))...)
		b = append(b, 0, 0, 0, 0)
		data -= n
	}
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return b
}

func TestFlipTouchesOneDataBit(t *testing.T) {
	dir := t.TempDir()
	for seed := uint64(0); seed < 200; seed++ {
		path := filepath.Join(dir, "shard")
		orig := writeShard(t, path, 10, 37)
		fl, err := flip(path, rand.New(rand.NewPCG(seed, 1)))
		require.NoError(t, err)
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		diff := 0
		for i := range got {
			if got[i] != orig[i] {
				diff += bits.OnesCount8(got[i] ^ orig[i])
				require.Equal(t, int64(i), fl.off)
				require.Equal(t, byte('d'), orig[i], "seed %d: flipped a header or checksum byte at %d", seed, i)
			}
		}
		require.Equal(t, 1, diff)
		require.NoError(t, unflip(fl))
		got, err = os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, orig, got)
	}
}

func TestUnflipLeavesRewrittenShardAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shard")
	writeShard(t, path, 8, 8)
	fl, err := flip(path, rand.New(rand.NewPCG(1, 1)))
	require.NoError(t, err)
	fixed := writeShard(t, path, 8, 8) // repaired meanwhile
	require.NoError(t, unflip(fl))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, fixed, got)

	empty := filepath.Join(t.TempDir(), "empty")
	writeShard(t, empty, 8, 0)
	_, err = flip(empty, rand.New(rand.NewPCG(1, 1)))
	require.Error(t, err, "a shard without data has nothing to flip")
}

func TestReport(t *testing.T) {
	h := new(hb).put(1, "a", v1, 0, 10).put(2, "a", v2, 20, 30, Unknown).getFailed(3, "a", 40, 50).
		put(3, "a", v3, 60, 61, NotSent).putIfAbsent(1, "a", v3, 70, 80, PreconditionFailed).final("a", v1, 100)
	r := &Report{Seed: 5, Mode: "netns", Episodes: 1, Plan: []string{"episode 1: kill-storage(storage-1) for 5s"},
		Faults: []KindStats{{Kind: KillStorage, Planned: 1, Applied: 1, Healed: 1, Mechanism: "SIGKILL"}}, Verdict: Linearizable}
	r.Ops = CountOps(h.ops)
	require.Equal(t, OpStats{Total: 5, ByKind: map[string]int{"put": 3, "get": 1, "put-if-absent": 1}, OK: 1,
		PreconditionFailed: 1, Indeterminate: 1, FailedReads: 1, NotSent: 1, FinalReads: 1}, r.Ops)
	require.Empty(t, r.Failures())
	require.Contains(t, r.Table(), "RESULT: PASS")
	r.Lost = []Finding{{Key: "a", Reason: "missing"}}
	r.Verdict = NotLinearizable
	require.Len(t, r.Failures(), 2)
	require.Contains(t, r.Table(), "RESULT: FAIL")
	b, err := r.JSON()
	require.NoError(t, err)
	require.Contains(t, string(b), `"linearizability": "NOT linearizable"`)
}
