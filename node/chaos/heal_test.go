package chaos

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

func TestHealed(t *testing.T) {
	since := time.Unix(1000, 0)
	cases := []struct {
		name string
		st   *metapb.HealStatusResponse
		now  time.Time
		want bool
	}{
		{"fresh scan, nothing at risk", &metapb.HealStatusResponse{LastScanUnixNano: since.UnixNano() + 1}, since.Add(time.Second), true},
		{"old scan, not quiet long enough", &metapb.HealStatusResponse{LastScanUnixNano: since.UnixNano() - 1}, since.Add(time.Second), false},
		{"old scan, quiet long enough", &metapb.HealStatusResponse{LastScanUnixNano: since.UnixNano() - 1}, since.Add(healQuiet), true},
		{"still scanning", &metapb.HealStatusResponse{Scanning: true, LastScanUnixNano: since.UnixNano() + 1}, since.Add(time.Minute), false},
		{"bodies at risk", &metapb.HealStatusResponse{AtRisk: []*metapb.RiskLevel{{Surviving: 5, Bodies: 1}}, LastScanUnixNano: since.UnixNano() + 1}, since.Add(time.Minute), false},
		{"bytes left to rebuild", &metapb.HealStatusResponse{BytesToRebuild: 1, LastScanUnixNano: since.UnixNano() + 1}, since.Add(time.Minute), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, healed(tc.st, since, tc.now))
		})
	}
}
