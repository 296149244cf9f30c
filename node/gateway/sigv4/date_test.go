package sigv4

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseDateHeader(t *testing.T) {
	want := time.Date(2026, 12, 2, 7, 5, 32, 0, time.UTC)
	cases := []struct {
		in string
		ok bool
	}{
		{"Wed, 02 Dec 2026 07:05:32 GMT", true},
		{"Wed, 02 Dec 2026 07:05:32 -0000", true},
		{"Wed, 02 Dec 2026 07:05:32 +0000", true},
		{"Wednesday, 02-Dec-26 07:05:32 GMT", true},
		{"Wed Dec  2 07:05:32 2026", true},
		{"Wed, 02 Dec 2026 08:05:32 +0100", true},
		{"yesterday", false},
		{"Wed, 02 Dec 2026 07:05:32", false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseDateHeader(tc.in)
			if !tc.ok {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.True(t, want.Equal(got), "got %v", got)
		})
	}
}
