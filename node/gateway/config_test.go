package gateway

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/erasure"
	"github.com/cairn-io/cairn/node/objio"
)

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		return Config{AccessKey: "ak", SecretKey: "sk", Meta: newFakeMeta(), Bodies: newFakeBodies(), Profile: testProfile}
	}
	cases := []struct {
		name   string
		mutate func(*Config)
		ok     bool
	}{
		{"defaults", func(*Config) {}, true},
		{"no access key", func(c *Config) { c.AccessKey = "" }, false},
		{"no secret key", func(c *Config) { c.SecretKey = "" }, false},
		{"no meta", func(c *Config) { c.Meta = nil }, false},
		{"no bodies", func(c *Config) { c.Bodies = nil }, false},
		{"bad profile", func(c *Config) { c.Profile = erasure.Profile{K: 0, M: 2, BlockSize: 64} }, false},
		{"negative max put", func(c *Config) { c.MaxPutSize = -1 }, false},
		{"negative inline max", func(c *Config) { c.InlineMaxBytes = -1 }, false},
		{"inline max above the limit", func(c *Config) { c.InlineMaxBytes = objio.MaxInlineBytes + 1 }, false},
		{"inline max at the limit", func(c *Config) { c.InlineMaxBytes = objio.MaxInlineBytes }, true},
		{"suffix with dot", func(c *Config) { c.VirtualHostSuffixes = []string{".example.com"} }, false},
		{"suffix with port", func(c *Config) { c.VirtualHostSuffixes = []string{"localhost:9000"} }, false},
		{"good suffix", func(c *Config) { c.VirtualHostSuffixes = []string{"s3.example.com"} }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mutate(&c)
			err := c.Validate()
			if !tc.ok {
				require.ErrorIs(t, err, ErrInvalidConfig)
				_, err = New(c)
				require.ErrorIs(t, err, ErrInvalidConfig)
				return
			}
			require.NoError(t, err)
			require.Equal(t, DefaultRegion, c.Region)
			require.Equal(t, int64(DefaultMaxPutSize), c.MaxPutSize)
			require.NotNil(t, c.Logger)
			require.NotNil(t, c.Now)
		})
	}
}

func TestRoute(t *testing.T) {
	g := &Gateway{cfg: Config{VirtualHostSuffixes: []string{"s3.example.com", "localhost"}}}
	cases := []struct {
		host, path  string
		bucket, key string
	}{
		{"127.0.0.1:9000", "/", "", ""},
		{"127.0.0.1:9000", "/bkt", "bkt", ""},
		{"127.0.0.1:9000", "/bkt/", "bkt", ""},
		{"127.0.0.1:9000", "/bkt/a/", "bkt", "a/"},
		{"127.0.0.1:9000", "/bkt//a", "bkt", "/a"},
		{"127.0.0.1:9000", "/bkt/a/../b", "bkt", "a/../b"},
		{"localhost:9000", "/bkt/k", "bkt", "k"},
		{"bkt.localhost:9000", "/k/x", "bkt", "k/x"},
		{"bkt.localhost", "/", "bkt", ""},
		{"my.dotted.bkt.s3.example.com", "/k", "my.dotted.bkt", "k"},
		{"BKT.S3.Example.COM.", "/k", "bkt", "k"},
		{"s3.example.com", "/bkt/k", "bkt", "k"},
		{"other.example.com", "/bkt/k", "bkt", "k"},
	}
	for _, tc := range cases {
		t.Run(tc.host+tc.path, func(t *testing.T) {
			r := httptestRequest(tc.host, tc.path)
			b, k := g.route(r)
			require.Equal(t, tc.bucket, b)
			require.Equal(t, tc.key, k)
		})
	}
}

func TestContinuationToken(t *testing.T) {
	for _, key := range []string{"a", "dir/", "ключ with spaces/+", "\x00odd"} {
		got, err := decodeContinuationToken(encodeContinuationToken(key))
		require.NoError(t, err)
		require.Equal(t, key, got)
	}
	for _, bad := range []string{"", "!!!", "abc"} {
		_, err := decodeContinuationToken(bad)
		require.Error(t, err, "token %q", bad)
	}
}

func TestURLEncodeKey(t *testing.T) {
	cases := map[string]string{
		"plain":        "plain",
		"a b":          "a+b",
		"a+b":          "a%2Bb",
		"dir/sub/file": "dir/sub/file",
		"ключ":         "%D0%BA%D0%BB%D1%8E%D1%87",
		"~tilde-_.":    "~tilde-_.",
		"%":            "%25",
	}
	for in, want := range cases {
		require.Equal(t, want, urlEncodeKey(in), in)
	}
}
