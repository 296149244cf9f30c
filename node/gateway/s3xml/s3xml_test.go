package s3xml

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEncode(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, Encode(&buf, &ListAllMyBucketsResult{Owner: Owner{ID: "id", DisplayName: "name"}}))
	out := buf.String()
	require.True(t, strings.HasPrefix(out, `<?xml version="1.0" encoding="UTF-8"?>`))
	require.Contains(t, out, `<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	require.Contains(t, out, `<Buckets></Buckets>`, "an empty list is still an element")

	buf.Reset()
	require.NoError(t, Encode(&buf, &LocationConstraint{Region: "eu-west-1"}))
	require.Contains(t, buf.String(), `<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">eu-west-1</LocationConstraint>`)

	buf.Reset()
	require.NoError(t, Encode(&buf, &ListBucketV2Result{Name: "b", Contents: []Object{{Key: "a&b", ETag: `"e"`}}}))
	require.Contains(t, buf.String(), `<Key>a&amp;b</Key>`)
	require.NotContains(t, buf.String(), "<Owner>", "owner only when asked for")
}

func TestTime(t *testing.T) {
	ts := time.Date(2024, 3, 1, 12, 30, 45, 123456789, time.FixedZone("x", 3600))
	require.Equal(t, "2024-03-01T11:30:45.123Z", Time(ts))
}

var decodeCases = []struct {
	name, body string
	want       string
	malformed  bool
}{
	{"with namespace", `<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`, "eu-west-1", false},
	{"without namespace", `<CreateBucketConfiguration><LocationConstraint>us-west-2</LocationConstraint></CreateBucketConfiguration>`, "us-west-2", false},
	{"empty constraint", `<CreateBucketConfiguration/>`, "", false},
	{"wrong root", `<Other><LocationConstraint>x</LocationConstraint></Other>`, "", true},
	{"truncated", `<CreateBucketConfiguration><LocationConstraint>`, "", true},
	{"not xml", `{"json": true}`, "", true},
	{"empty", ``, "", true},
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			var c CreateBucketConfiguration
			err := Decode(strings.NewReader(tc.body), &c)
			if tc.malformed {
				require.ErrorIs(t, err, ErrMalformed)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, c.LocationConstraint)
		})
	}
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

func TestDecodeReadError(t *testing.T) {
	cause := errors.New("signature mismatch")
	var c CreateBucketConfiguration
	err := Decode(failingReader{cause}, &c)
	require.ErrorIs(t, err, cause)
	require.NotErrorIs(t, err, ErrMalformed, "a failed read is not bad XML")
}

func FuzzDecode(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add(tc.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var c CreateBucketConfiguration
		if err := Decode(strings.NewReader(body), &c); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("Decode(%q) = %v, want nil or ErrMalformed", body, err)
		}
	})
}
