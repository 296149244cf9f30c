package gateway

import (
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/gateway/checksum"
	"github.com/cairn-io/cairn/node/gateway/s3err"
)

func TestValidVersionID(t *testing.T) {
	cases := []struct {
		id string
		ok bool
	}{
		{"null", true},
		{newVersionID(time.Now()), true},
		{strings.Repeat("0", 32), true},
		{strings.Repeat("A", 32), false},
		{strings.Repeat("0", 31), false},
		{strings.Repeat("g", 32), false},
		{"", false},
		{"NULL", false},
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			require.Equal(t, tc.ok, validVersionID(tc.id))
		})
	}
}

func TestWriteConditions(t *testing.T) {
	cases := []struct {
		name        string
		header      http.Header
		ifMatch     string
		ifNoneMatch bool
		code        string
	}{
		{"none", http.Header{}, "", false, ""},
		{"if-none-match star", http.Header{"If-None-Match": {"*"}}, "", true, ""},
		{"if-none-match etag", http.Header{"If-None-Match": {`"abc"`}}, "", false, "NotImplemented"},
		{"if-match quoted", http.Header{"If-Match": {`"abc"`}}, "abc", false, ""},
		{"if-match bare", http.Header{"If-Match": {"abc"}}, "abc", false, ""},
		{"if-match star", http.Header{"If-Match": {"*"}}, "", false, "NotImplemented"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, nm, err := writeConditions(tc.header)
			if tc.code != "" {
				require.Equal(t, tc.code, s3err.FromError(err).Code)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.ifMatch, m)
			require.Equal(t, tc.ifNoneMatch, nm)
		})
	}
}

// TestVersioningAndDeleteRequests sends request documents the SDK would
// not: every one is refused before anything changes.
func TestVersioningAndDeleteRequests(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createBucket("bkt")
	e.put("bkt", "k", []byte("x"))

	md5Of := func(s string) string {
		sum := md5.Sum([]byte(s))
		return base64.StdEncoding.EncodeToString(sum[:])
	}
	crc32Of := func(s string) string {
		h := checksum.CRC32.New()
		h.Write([]byte(s))
		return checksum.Encode(h.Sum(nil))
	}
	deleteK := `<Delete><Object><Key>k</Key></Object></Delete>`
	manyKeys := "<Delete>" + strings.Repeat("<Object><Key>m</Key></Object>", maxDeleteObjects+1) + "</Delete>"
	cases := []struct {
		name, method, path, body string
		header                   http.Header
		status                   int
		code                     string
	}{
		{"versioning without body", http.MethodPut, "/bkt?versioning", "", nil, 400, "MalformedXML"},
		{"versioning not XML", http.MethodPut, "/bkt?versioning", "Enabled", nil, 400, "MalformedXML"},
		{"versioning bad status", http.MethodPut, "/bkt?versioning", `<VersioningConfiguration><Status>On</Status></VersioningConfiguration>`, nil, 400, "MalformedXML"},
		{"versioning without status", http.MethodPut, "/bkt?versioning", `<VersioningConfiguration></VersioningConfiguration>`, nil, 400, "IllegalVersioningConfigurationException"},
		{"versioning with mfa delete", http.MethodPut, "/bkt?versioning", `<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>`, nil, 501, "NotImplemented"},
		{"delete without integrity header", http.MethodPost, "/bkt?delete", deleteK, nil, 400, "InvalidRequest"},
		{"delete with wrong content-md5", http.MethodPost, "/bkt?delete", deleteK, http.Header{"Content-Md5": {md5Of("other")}}, 400, "BadDigest"},
		{"delete with wrong crc32", http.MethodPost, "/bkt?delete", deleteK, http.Header{"X-Amz-Checksum-Crc32": {crc32Of("other")}}, 400, "BadDigest"},
		{"delete not XML", http.MethodPost, "/bkt?delete", "k", http.Header{"Content-Md5": {md5Of("k")}}, 400, "MalformedXML"},
		{"delete of no objects", http.MethodPost, "/bkt?delete", "<Delete></Delete>", http.Header{"Content-Md5": {md5Of("<Delete></Delete>")}}, 400, "MalformedXML"},
		{"delete of too many objects", http.MethodPost, "/bkt?delete", manyKeys, http.Header{"Content-Md5": {md5Of(manyKeys)}}, 400, "MalformedXML"},
		{"delete in missing bucket", http.MethodPost, "/nobkt?delete", deleteK, http.Header{"Content-Md5": {md5Of(deleteK)}}, 404, "NoSuchBucket"},
		{"delete with malformed version", http.MethodDelete, "/bkt/k?versionId=x", "", nil, 400, "InvalidArgument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := e.signedRequest(tc.method, tc.path, strings.NewReader(tc.body), int64(len(tc.body)), tc.header)
			resp, body := e.do(req)
			require.Equal(t, tc.status, resp.StatusCode, string(body))
			require.Contains(t, string(body), "<Code>"+tc.code+"</Code>")
		})
	}
	require.NotNil(t, e.meta.object("bkt", "k"), "refused requests change nothing")

	// Both integrity forms are accepted when they match.
	for _, h := range []http.Header{{"Content-Md5": {md5Of(deleteK)}}, {"X-Amz-Checksum-Crc32": {crc32Of(deleteK)}}} {
		e.put("bkt", "k", []byte("x"))
		resp, body := e.do(e.signedRequest(http.MethodPost, "/bkt?delete", strings.NewReader(deleteK), int64(len(deleteK)), h))
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		require.Contains(t, string(body), "<Deleted><Key>k</Key></Deleted>")
		require.Nil(t, e.meta.object("bkt", "k"))
	}
}
