package chaos

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// h builds a history tersely: times are in milliseconds.
type hb struct{ ops []Op }

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func (b *hb) put(c int, key string, v ValueID, call, ret int, out ...Outcome) *hb {
	o := OK
	if len(out) > 0 {
		o = out[0]
	}
	b.ops = append(b.ops, Op{Client: c, Kind: OpPut, Key: key, Value: v, Call: ms(call), Return: ms(ret), Outcome: o})
	return b
}

func (b *hb) putIfAbsent(c int, key string, v ValueID, call, ret int, out Outcome) *hb {
	b.ops = append(b.ops, Op{Client: c, Kind: OpPutIfAbsent, Key: key, Value: v, Call: ms(call), Return: ms(ret), Outcome: out})
	return b
}

func (b *hb) putIfMatch(c int, key string, v, match ValueID, call, ret int, out Outcome) *hb {
	b.ops = append(b.ops, Op{Client: c, Kind: OpPutIfMatch, Key: key, Value: v, Match: match, Call: ms(call), Return: ms(ret), Outcome: out})
	return b
}

func (b *hb) del(c int, key string, call, ret int, out ...Outcome) *hb {
	o := OK
	if len(out) > 0 {
		o = out[0]
	}
	b.ops = append(b.ops, Op{Client: c, Kind: OpDelete, Key: key, Call: ms(call), Return: ms(ret), Outcome: o})
	return b
}

func (b *hb) get(c int, key string, got ValueID, call, ret int) *hb {
	b.ops = append(b.ops, Op{Client: c, Kind: OpGet, Key: key, Value: got, Call: ms(call), Return: ms(ret), Outcome: OK})
	return b
}

func (b *hb) getFailed(c int, key string, call, ret int) *hb {
	b.ops = append(b.ops, Op{Client: c, Kind: OpGet, Key: key, Call: ms(call), Return: ms(ret), Outcome: Unknown, Err: "503"})
	return b
}

func (b *hb) getCorrupt(c int, key string, call, ret int) *hb {
	b.ops = append(b.ops, Op{Client: c, Kind: OpGet, Key: key, Call: ms(call), Return: ms(ret), Outcome: OK, Corrupt: "bytes were never written"})
	return b
}

func (b *hb) final(key string, got ValueID, at int) *hb {
	b.ops = append(b.ops, Op{Client: 99, Kind: OpGet, Key: key, Value: got, Call: ms(at), Return: ms(at + 1), Outcome: OK, Final: true})
	return b
}

func (b *hb) finalFailed(key string, at int) *hb {
	b.ops = append(b.ops, Op{Client: 99, Kind: OpGet, Key: key, Call: ms(at), Return: ms(at + 1), Outcome: Unknown, Final: true})
	return b
}

var (
	v1 = MakeValueID(1, 1)
	v2 = MakeValueID(2, 1)
	v3 = MakeValueID(3, 1)
)

func TestChecker(t *testing.T) {
	cases := []struct {
		name      string
		h         *hb
		verdict   Verdict
		lost      int
		corrupted int
	}{
		{
			name: "sequential puts and reads",
			h: new(hb).put(1, "a", v1, 0, 10).get(2, "a", v1, 20, 30).put(1, "a", v2, 40, 50).
				get(2, "a", v2, 60, 70).final("a", v2, 100),
			verdict: Linearizable,
		},
		{
			name: "concurrent put read either value",
			h: new(hb).put(1, "a", v1, 0, 10).put(2, "a", v2, 20, 60).get(3, "a", v1, 30, 40).
				get(3, "a", v2, 65, 70).final("a", v2, 100),
			verdict: Linearizable,
		},
		{
			name:    "lost write: acknowledged put reads 404 at the end",
			h:       new(hb).put(1, "a", v1, 0, 10).get(2, "a", v1, 20, 30).final("a", Absent, 100),
			verdict: NotLinearizable, lost: 1,
		},
		{
			name: "stale read after an acknowledged overwrite",
			h: new(hb).put(1, "a", v1, 0, 10).put(1, "a", v2, 20, 30).get(2, "a", v1, 40, 50).
				final("a", v2, 100),
			verdict: NotLinearizable,
		},
		{
			name:    "stale value at the end is lost",
			h:       new(hb).put(1, "a", v1, 0, 10).put(1, "a", v2, 20, 30).final("a", v1, 100),
			verdict: NotLinearizable, lost: 1,
		},
		{
			name:    "corrupted read",
			h:       new(hb).put(1, "a", v1, 0, 10).getCorrupt(2, "a", 20, 30).final("a", v1, 100),
			verdict: NotLinearizable, corrupted: 1,
		},
		{
			name:    "a read of a value never sent",
			h:       new(hb).put(1, "a", v1, 0, 10).get(2, "a", v3, 20, 30).final("a", v1, 100),
			verdict: NotLinearizable, corrupted: 1,
		},
		{
			name: "unknown put that took effect",
			h: new(hb).put(1, "a", v1, 0, 10).put(2, "a", v2, 20, 30, Unknown).get(3, "a", v2, 40, 50).
				final("a", v2, 100),
			verdict: Linearizable,
		},
		{
			name:    "unknown put that did not take effect",
			h:       new(hb).put(1, "a", v1, 0, 10).put(2, "a", v2, 20, 30, Unknown).get(3, "a", v1, 40, 50).final("a", v1, 100),
			verdict: Linearizable,
		},
		{
			name: "unknown put observed, then the old value again",
			h: new(hb).put(1, "a", v1, 0, 10).put(2, "a", v2, 20, 30, Unknown).get(3, "a", v2, 40, 50).
				get(3, "a", v1, 60, 70).final("a", v1, 100),
			verdict: NotLinearizable, lost: 0, // v1 is still a candidate: v2's outcome is unknown
		},
		{
			name:    "unknown delete either way",
			h:       new(hb).put(1, "a", v1, 0, 10).del(2, "a", 20, 30, Unknown).get(3, "a", v1, 40, 50).final("a", Absent, 100),
			verdict: Linearizable,
		},
		{
			name: "failed reads and unsent requests are ignored",
			h: new(hb).put(1, "a", v1, 0, 10).getFailed(2, "a", 20, 30).put(3, "a", v3, 35, 36, NotSent).
				get(2, "a", v1, 40, 50).final("a", v1, 100),
			verdict: Linearizable,
		},
		{
			name: "put-if-absent: one of two concurrent creates wins",
			h: new(hb).putIfAbsent(1, "a", v1, 0, 20, OK).putIfAbsent(2, "a", v2, 5, 25, PreconditionFailed).
				get(3, "a", v1, 30, 40).final("a", v1, 100),
			verdict: Linearizable,
		},
		{
			name: "put-if-absent: two winners",
			h: new(hb).putIfAbsent(1, "a", v1, 0, 20, OK).putIfAbsent(2, "a", v2, 5, 25, OK).
				final("a", v2, 100),
			verdict: NotLinearizable,
		},
		{
			name: "put-if-match on the current value, 412 on a stale one, 404 on none",
			h: new(hb).putIfMatch(1, "a", v1, v3, 0, 5, NoSuchKey).put(1, "a", v1, 10, 20).
				putIfMatch(2, "a", v2, v1, 30, 40, OK).putIfMatch(3, "a", v3, v1, 50, 60, PreconditionFailed).
				final("a", v2, 100),
			verdict: Linearizable,
		},
		{
			name: "put-if-match succeeds on a stale ETag",
			h: new(hb).put(1, "a", v1, 0, 10).put(1, "a", v2, 20, 30).putIfMatch(2, "a", v3, v1, 40, 50, OK).
				final("a", v3, 100),
			verdict: NotLinearizable,
		},
		{
			name: "put-if-match of unknown outcome",
			h: new(hb).put(1, "a", v1, 0, 10).putIfMatch(2, "a", v2, v1, 20, 30, Unknown).get(3, "a", v2, 40, 50).
				final("a", v2, 100),
			verdict: Linearizable,
		},
		{
			name:    "unreadable at the end with an acknowledged value",
			h:       new(hb).put(1, "a", v1, 0, 10).finalFailed("a", 100),
			verdict: Linearizable, lost: 1,
		},
		{
			name:    "deleted key is absent at the end",
			h:       new(hb).put(1, "a", v1, 0, 10).del(1, "a", 20, 30, OK).final("a", Absent, 100),
			verdict: Linearizable,
		},
		{
			name: "keys are independent",
			h: new(hb).put(1, "a", v1, 0, 10).put(2, "b", v2, 0, 10).get(3, "a", v1, 20, 30).
				get(3, "b", v2, 20, 30).final("a", v1, 100).final("b", v2, 100),
			verdict: Linearizable,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := CheckLinearizable(tc.h.ops, 10*time.Second, "")
			require.NoError(t, err)
			require.Equal(t, tc.verdict, v)
			lost, corrupted := CheckDurability(tc.h.ops)
			require.Len(t, lost, tc.lost, "lost: %v", lost)
			require.Len(t, corrupted, tc.corrupted, "corrupted: %v", corrupted)
		})
	}
}

func (b *hb) putOK(c int, key string, v ValueID, call, ret int) *hb {
	return b.put(c, key, v, call, ret, OK)
}

func TestCandidates(t *testing.T) {
	cases := []struct {
		name string
		h    *hb
		want []ValueID
	}{
		{"nothing written", new(hb), []ValueID{Absent}},
		{"one acknowledged put", new(hb).putOK(1, "a", v1, 0, 10), []ValueID{v1}},
		{"overwritten", new(hb).putOK(1, "a", v1, 0, 10).putOK(1, "a", v2, 20, 30), []ValueID{v2}},
		{"concurrent puts", new(hb).putOK(1, "a", v1, 0, 30).putOK(2, "a", v2, 10, 40), []ValueID{v1, v2}},
		{"unknown put after an acknowledged one", new(hb).putOK(1, "a", v1, 0, 10).put(2, "a", v2, 20, 30, Unknown), []ValueID{v1, v2}},
		{"unknown put before an acknowledged one", new(hb).put(2, "a", v2, 0, 5, Unknown).putOK(1, "a", v1, 10, 20), []ValueID{v1, v2}},
		{"only unknown puts", new(hb).put(2, "a", v2, 0, 5, Unknown), []ValueID{Absent, v2}},
		{"refused conditional put has no effect", new(hb).putOK(1, "a", v1, 0, 10).putIfAbsent(2, "a", v2, 20, 30, PreconditionFailed), []ValueID{v1}},
		{"acknowledged delete", new(hb).putOK(1, "a", v1, 0, 10).del(2, "a", 20, 30, OK), []ValueID{Absent}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Candidates(tc.h.ops))
		})
	}
}

func TestVisualizationOnFailure(t *testing.T) {
	h := new(hb).put(1, "a", v1, 0, 10, OK).put(1, "a", v2, 20, 30, OK).get(2, "a", v1, 40, 50)
	path := filepath.Join(t.TempDir(), "history.html")
	v, err := CheckLinearizable(h.ops, 10*time.Second, path)
	require.NoError(t, err)
	require.Equal(t, NotLinearizable, v)
	require.FileExists(t, path)
}

func TestValues(t *testing.T) {
	for _, size := range []int{0, 1, 60, 61, 62, 1000, 4<<20 + 17} {
		id := MakeValueID(3, uint32(size))
		b := Body("k07", id, size)
		require.GreaterOrEqual(t, len(b), size)
		got, err := Verify("k07", b)
		require.NoError(t, err, "size %d", size)
		require.Equal(t, id, got)

		_, err = Verify("k08", b)
		require.ErrorIs(t, err, ErrNotWritten, "another key's value")
		flipped := append([]byte(nil), b...)
		flipped[len(flipped)-1] ^= 0x10
		_, err = Verify("k07", flipped)
		require.ErrorIs(t, err, ErrNotWritten, "a flipped bit")
		_, err = Verify("k07", b[:len(b)-1])
		require.ErrorIs(t, err, ErrNotWritten, "a truncated body")
	}
	_, err := Verify("k07", []byte("hello"))
	require.ErrorIs(t, err, ErrNotWritten)
	require.NotEqual(t, Body("k", v1, 100), Body("k", v2, 100))
	require.Equal(t, Body("k", v1, 5000), Body("k", v1, 5000))
}
