package gateway

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidBucketName(t *testing.T) {
	cases := []struct {
		name  string
		valid bool
	}{
		{"abc", true},
		{"my-bucket.v2", true},
		{"0123456789", true},
		{strings.Repeat("a", 63), true},
		{"ab", false},
		{strings.Repeat("a", 64), false},
		{"", false},
		{"Upper", false},
		{"under_score", false},
		{"space s", false},
		{"-leading", false},
		{"trailing-", false},
		{".leading", false},
		{"trailing.", false},
		{"double..dot", false},
		{"dash-.dot", false},
		{"dot.-dash", false},
		{"192.168.5.4", false},
		{"192.168.5.4a", true},
		{"xn--punycode", false},
		{"sthree-bucket", false},
		{"amzn-s3-demo-bucket", false},
		{"bucket-s3alias", false},
		{"bucket--ol-s3", false},
		{"bucket.mrap", false},
		{"bucket--x-s3", false},
		{"bucket--table-s3", false},
		{"ünïcode", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.valid, validBucketName(tc.name))
		})
	}
}
