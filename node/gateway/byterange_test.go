package gateway

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

var rangeCases = []struct {
	header string
	size   int64
	want   byteRange
	ok     bool
	err    error
}{
	{"", 10, byteRange{}, false, nil},
	{"bytes=0-4", 10, byteRange{0, 5}, true, nil},
	{"bytes=0-0", 10, byteRange{0, 1}, true, nil},
	{"bytes=9-9", 10, byteRange{9, 1}, true, nil},
	{"bytes=3-", 10, byteRange{3, 7}, true, nil},
	{"bytes=-3", 10, byteRange{7, 3}, true, nil},
	{"bytes=-10", 10, byteRange{0, 10}, true, nil},
	{"bytes=-11", 10, byteRange{0, 10}, true, nil},
	{"bytes=5-100", 10, byteRange{5, 5}, true, nil},
	{"BYTES=1-2", 10, byteRange{1, 2}, true, nil},
	{" bytes= 1 - 2 ", 10, byteRange{1, 2}, true, nil},
	{"bytes=10-", 10, byteRange{}, false, errRangeNotSatisfiable},
	{"bytes=10-20", 10, byteRange{}, false, errRangeNotSatisfiable},
	{"bytes=-0", 10, byteRange{}, false, errRangeNotSatisfiable},
	{"bytes=0-", 0, byteRange{}, false, errRangeNotSatisfiable},
	{"bytes=-5", 0, byteRange{}, false, errRangeNotSatisfiable},
	{"bytes=0-1,3-4", 10, byteRange{}, false, nil},
	{"bytes=5-2", 10, byteRange{}, false, nil},
	{"bytes=-", 10, byteRange{}, false, nil},
	{"bytes=a-b", 10, byteRange{}, false, nil},
	{"bytes=+1-2", 10, byteRange{}, false, nil},
	{"bytes=1--2", 10, byteRange{}, false, nil},
	{"bytes=1", 10, byteRange{}, false, nil},
	{"bytes=99999999999999999999-", 10, byteRange{}, false, nil},
	{"items=0-1", 10, byteRange{}, false, nil},
	{"bytes", 10, byteRange{}, false, nil},
}

func TestParseRange(t *testing.T) {
	for _, tc := range rangeCases {
		t.Run(tc.header, func(t *testing.T) {
			got, ok, err := parseRange(tc.header, tc.size)
			require.ErrorIs(t, err, tc.err)
			if tc.err == nil {
				require.NoError(t, err)
			}
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, got)
		})
	}
}

func FuzzParseRange(f *testing.F) {
	for _, tc := range rangeCases {
		f.Add(tc.header, tc.size)
	}
	f.Fuzz(func(t *testing.T, header string, size int64) {
		if size < 0 {
			size = -(size + 1)
		}
		r, ok, err := parseRange(header, size)
		switch {
		case err != nil:
			if !errors.Is(err, errRangeNotSatisfiable) || ok {
				t.Fatalf("parseRange(%q, %d) = %v, %v, %v", header, size, r, ok, err)
			}
		case ok:
			if r.start < 0 || r.length <= 0 || r.start+r.length > size {
				t.Fatalf("parseRange(%q, %d) = %+v outside the object", header, size, r)
			}
		}
	})
}
