package sigv4

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/gateway/checksum"
)

// TestAWSHeaderExamples replays the examples of "Signature Calculations for the
// Authorization Header: Transferring Payload in a Single Chunk".
func TestAWSHeaderExamples(t *testing.T) {
	const emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	const host = "examplebucket.s3.amazonaws.com"
	tests := []struct {
		name          string
		method        string
		target        string
		headers       map[string]string
		body          string
		signedHeaders string
		signature     string
	}{
		{
			name: "GET object with Range", method: "GET", target: "/test.txt",
			headers:       map[string]string{"Range": "bytes=0-9", "X-Amz-Content-Sha256": emptyHash, "X-Amz-Date": exampleAmzDate},
			signedHeaders: "host;range;x-amz-content-sha256;x-amz-date",
			signature:     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
		},
		{
			// The request line carries a raw '$' that the signer encoded.
			name: "PUT object", method: "PUT", target: "/test$file.text",
			headers: map[string]string{
				"Date": "Fri, 24 May 2013 00:00:00 GMT", "X-Amz-Date": exampleAmzDate,
				"X-Amz-Storage-Class":  "REDUCED_REDUNDANCY",
				"X-Amz-Content-Sha256": "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
			},
			body:          "Welcome to Amazon S3.",
			signedHeaders: "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
			signature:     "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
		},
		{
			name: "GET bucket lifecycle", method: "GET", target: "/?lifecycle",
			headers:       map[string]string{"X-Amz-Content-Sha256": emptyHash, "X-Amz-Date": exampleAmzDate},
			signedHeaders: "host;x-amz-content-sha256;x-amz-date",
			signature:     "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
		},
		{
			name: "list objects", method: "GET", target: "/?max-keys=2&prefix=J",
			headers:       map[string]string{"X-Amz-Content-Sha256": emptyHash, "X-Amz-Date": exampleAmzDate},
			signedHeaders: "host;x-amz-content-sha256;x-amz-date",
			signature:     "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(exampleTime.Add(3 * time.Minute))
			headers := map[string]string{"Authorization": exampleAuth(tc.signedHeaders, tc.signature)}
			for k, val := range tc.headers {
				headers[k] = val
			}
			res, err := v.Verify(serverRequest(tc.method, tc.target, host, headers, []byte(tc.body)))
			require.NoError(t, err)
			require.Equal(t, exampleAccessKey, res.AccessKey)
			require.False(t, res.Anonymous)
			require.Equal(t, int64(len(tc.body)), res.DecodedLength)
			got, err := readBody(t, res)
			require.NoError(t, err)
			require.Equal(t, tc.body, string(got))

			// Any change to what was signed must fail.
			bad := strings.Replace(tc.signature, tc.signature[:1], "0", 1)
			if bad == tc.signature {
				bad = "1" + tc.signature[1:]
			}
			headers["Authorization"] = exampleAuth(tc.signedHeaders, bad)
			_, err = v.Verify(serverRequest(tc.method, tc.target, host, headers, []byte(tc.body)))
			require.ErrorIs(t, err, ErrSignatureDoesNotMatch)

			headers["Authorization"] = exampleAuth(tc.signedHeaders, tc.signature)
			_, err = v.Verify(serverRequest(tc.method, tc.target, "other.example.com", headers, []byte(tc.body)))
			require.ErrorIs(t, err, ErrSignatureDoesNotMatch)
		})
	}
}

func TestAWSPutExampleBodyMustMatchHash(t *testing.T) {
	headers := map[string]string{
		"Authorization":        exampleAuth("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class", "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
		"Date":                 "Fri, 24 May 2013 00:00:00 GMT",
		"X-Amz-Date":           exampleAmzDate,
		"X-Amz-Storage-Class":  "REDUCED_REDUNDANCY",
		"X-Amz-Content-Sha256": "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
	}
	res, err := newVerifier(exampleTime).Verify(serverRequest("PUT", "/test$file.text", "examplebucket.s3.amazonaws.com", headers, []byte("Welcome to Amazon S4.")))
	require.NoError(t, err, "the signature covers the hash, not the body")
	got, err := readBody(t, res)
	require.ErrorIs(t, err, ErrContentSHA256Mismatch)
	require.Equal(t, "Welcome to Amazon S4.", string(got), "bytes stream through; the verdict comes at EOF")
}

const examplePresignedTarget = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"

func TestAWSPresignedExample(t *testing.T) {
	tests := []struct {
		name    string
		now     time.Time
		target  string
		wantErr error
	}{
		{"at signing time", exampleTime, examplePresignedTarget, nil},
		{"last valid second", exampleTime.Add(86400 * time.Second), examplePresignedTarget, nil},
		{"expired", exampleTime.Add(86401 * time.Second), examplePresignedTarget, ErrRequestExpired},
		{"not yet valid", exampleTime.Add(-time.Hour), examplePresignedTarget, ErrRequestTimeTooSkewed},
		{"tampered expiry", exampleTime, strings.Replace(examplePresignedTarget, "Expires=86400", "Expires=86401", 1), ErrSignatureDoesNotMatch},
		{"other object", exampleTime, strings.Replace(examplePresignedTarget, "/test.txt", "/test2.txt", 1), ErrSignatureDoesNotMatch},
		{"extra parameter", exampleTime, examplePresignedTarget + "&versionId=1", ErrSignatureDoesNotMatch},
		{"expiry over seven days", exampleTime, strings.Replace(examplePresignedTarget, "Expires=86400", "Expires=604801", 1), ErrAuthorizationMalformed},
		{"zero expiry", exampleTime, strings.Replace(examplePresignedTarget, "Expires=86400", "Expires=0", 1), ErrAuthorizationMalformed},
		{"no expiry", exampleTime, strings.Replace(examplePresignedTarget, "X-Amz-Expires=86400&", "", 1), ErrAuthorizationMalformed},
		{"sigv4a", exampleTime, strings.Replace(examplePresignedTarget, "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1), ErrUnsupportedAlgorithm},
		{"no algorithm", exampleTime, strings.Replace(examplePresignedTarget, "X-Amz-Algorithm=AWS4-HMAC-SHA256&", "", 1), ErrAuthorizationMalformed},
		{"bad date", exampleTime, strings.Replace(examplePresignedTarget, "X-Amz-Date=20130524T000000Z", "X-Amz-Date=2013-05-24", 1), ErrAuthorizationMalformed},
		{"scope date differs", exampleTime, strings.Replace(examplePresignedTarget, "X-Amz-Date=20130524T000000Z", "X-Amz-Date=20130525T000000Z", 1), ErrAuthorizationMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := serverRequest("GET", tc.target, "examplebucket.s3.amazonaws.com", nil, nil)
			res, err := newVerifier(tc.now).Verify(r)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, exampleAccessKey, res.AccessKey)
		})
	}
}

func TestPresignedRequiresUnknownKeyCheck(t *testing.T) {
	v := &Verifier{Creds: staticCreds{"OTHER": exampleSecret}, Now: func() time.Time { return exampleTime }}
	_, err := v.Verify(serverRequest("GET", examplePresignedTarget, "examplebucket.s3.amazonaws.com", nil, nil))
	require.ErrorIs(t, err, ErrInvalidAccessKeyID)
}

// The "PUT Object" example of "Transferring Payload in Multiple Chunks": 64 KiB
// and 1 KiB of 'a' with AWS's published chunk signatures.
var (
	exampleChunkData = bytes.Repeat([]byte("a"), 66560)
	exampleChunkBody = "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n" +
		strings.Repeat("a", 65536) + "\r\n" +
		"400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n" +
		strings.Repeat("a", 1024) + "\r\n" +
		"0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"
	exampleTrailerBody = "10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n" +
		strings.Repeat("a", 65536) + "\r\n" +
		"400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n" +
		strings.Repeat("a", 1024) + "\r\n" +
		"0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n" +
		"x-amz-checksum-crc32c:sOO8/Q==\r\n" +
		"x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n"
)

func exampleChunkRequest() map[string]string {
	return map[string]string{
		"Authorization": exampleAuth("content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class",
			"4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"),
		"Content-Encoding":             "aws-chunked",
		"Content-Length":               "66824",
		"X-Amz-Content-Sha256":         "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
		"X-Amz-Date":                   exampleAmzDate,
		"X-Amz-Decoded-Content-Length": "66560",
		"X-Amz-Storage-Class":          "REDUCED_REDUNDANCY",
	}
}

func exampleTrailerRequest() map[string]string {
	return map[string]string{
		"Authorization": exampleAuth("content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer",
			"106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"),
		"Content-Encoding":             "aws-chunked",
		"X-Amz-Content-Sha256":         "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
		"X-Amz-Date":                   exampleAmzDate,
		"X-Amz-Decoded-Content-Length": "66560",
		"X-Amz-Storage-Class":          "REDUCED_REDUNDANCY",
		"X-Amz-Trailer":                "x-amz-checksum-crc32c",
	}
}

func TestAWSChunkedExampleEncoder(t *testing.T) {
	s := exampleSigner()
	s.prev = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
	require.Equal(t, exampleChunkBody, string(encodeChunks(s, exampleChunkData, 65536, false)))
	s.prev = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
	require.Equal(t, exampleTrailerBody, string(encodeChunks(s, exampleChunkData, 65536, true, "x-amz-checksum-crc32c:sOO8/Q==")))
}

func TestAWSChunkedExample(t *testing.T) {
	wrappers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"whole", func(r io.Reader) io.Reader { return r }},
		{"one byte reads", iotest.OneByteReader},
		{"data with EOF", iotest.DataErrReader},
		{"half reads", iotest.HalfReader},
	}
	bodies := []struct {
		name    string
		body    string
		headers func() map[string]string
		trailer string
	}{
		{"signed", exampleChunkBody, func() map[string]string { return exampleChunkRequest() }, ""},
		{"signed with trailer", exampleTrailerBody, exampleTrailerRequest, "sOO8/Q=="},
	}
	for _, b := range bodies {
		for _, w := range wrappers {
			t.Run(b.name+"/"+w.name, func(t *testing.T) {
				r := serverRequest("PUT", "/examplebucket/chunkObject.txt", "s3.amazonaws.com", b.headers(), nil)
				r.Body = io.NopCloser(w.wrap(strings.NewReader(b.body)))
				res, err := newVerifier(exampleTime).Verify(r)
				require.NoError(t, err)
				require.Equal(t, int64(66560), res.DecodedLength)
				got, err := readBody(t, res)
				require.NoError(t, err)
				require.Equal(t, exampleChunkData, got)
				alg, val := res.TrailerChecksum()
				if b.trailer == "" {
					require.Empty(t, alg)
					require.Empty(t, val)
					return
				}
				require.Equal(t, checksum.CRC32C, res.ChecksumAlgorithm)
				require.Equal(t, checksum.CRC32C, alg)
				require.Equal(t, b.trailer, val)
			})
		}
	}
}

func TestAWSChunkedExampleCorruptions(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(string) string
		trailer bool
		wantErr error
		// maxDecoded bounds what reaches the reader: never a byte of a bad chunk.
		maxDecoded int
	}{
		{"flipped byte in first chunk", func(s string) string { return strings.Replace(s, "aaaa", "aaba", 1) }, false, ErrChunkSignatureMismatch, 0},
		{"flipped byte in second chunk", func(s string) string {
			i := strings.Index(s, "400;")
			return s[:i+100] + "b" + s[i+101:]
		}, false, ErrChunkSignatureMismatch, 65536},
		{"chunks swapped signatures", func(s string) string {
			return strings.Replace(s, "0055627c", "b6c6ea8a", 1)
		}, false, ErrChunkSignatureMismatch, 65536},
		{"truncated in data", func(s string) string { return s[:66000] }, false, ErrIncompleteBody, 65536},
		{"truncated in header", func(s string) string { return s[:5] }, false, ErrIncompleteBody, 0},
		{"no final chunk", func(s string) string { return s[:strings.Index(s, "0;chunk-signature=b6")] }, false, ErrIncompleteBody, 66560},
		{"missing CRLF after data", func(s string) string { return strings.Replace(s, "a\r\n400;", "a400;", 1) }, false, ErrMalformedChunk, 0},
		{"bad size", func(s string) string { return strings.Replace(s, "400;", "4z0;", 1) }, false, ErrMalformedChunk, 65536},
		{"no chunk signature", func(s string) string { return strings.Replace(s, "400;chunk-signature=", "400;chunk-signaturX=", 1) }, false, ErrMalformedChunk, 65536},
		{"garbage after final chunk", func(s string) string { return s[:len(s)-2] + "xx\r\n" }, false, ErrMalformedChunk, 66560},
		{"bad trailer signature", func(s string) string {
			return strings.Replace(s, "trailer-signature:d81f", "trailer-signature:d81e", 1)
		}, true, ErrChunkSignatureMismatch, 66560},
		{"trailer value changed", func(s string) string { return strings.Replace(s, "sOO8/Q==", "sOO8/A==", 1) }, true, ErrChunkSignatureMismatch, 66560},
		{"trailer signature missing", func(s string) string {
			i := strings.Index(s, "x-amz-trailer-signature")
			return s[:i] + "\r\n"
		}, true, ErrChunkSignatureMismatch, 66560},
		{"trailer missing", func(s string) string {
			i := strings.Index(s, "x-amz-checksum-crc32c")
			return s[:i] + "\r\n"
		}, true, ErrMalformedChunk, 66560},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body, headers := exampleChunkBody, exampleChunkRequest()
			if tc.trailer {
				body, headers = exampleTrailerBody, exampleTrailerRequest()
			}
			r := serverRequest("PUT", "/examplebucket/chunkObject.txt", "s3.amazonaws.com", headers, []byte(tc.mutate(body)))
			res, err := newVerifier(exampleTime).Verify(r)
			require.NoError(t, err)
			got, err := readBody(t, res)
			require.ErrorIs(t, err, tc.wantErr)
			require.LessOrEqual(t, len(got), tc.maxDecoded)
			alg, val := res.TrailerChecksum()
			require.Empty(t, alg)
			require.Empty(t, val)
		})
	}
}

func TestChunkedDecodedLengthMismatch(t *testing.T) {
	for _, n := range []string{"66559", "66561", "0"} {
		t.Run(n, func(t *testing.T) {
			h := exampleChunkRequest()
			h["X-Amz-Decoded-Content-Length"] = n
			// x-amz-decoded-content-length is signed, so a wrong value cannot
			// reach the decoder through Verify; check the decoder directly
			// with AWS's published chain, and that Verify refuses the header.
			s := exampleSigner()
			s.prev = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
			d := newChunkDecoder(io.NopCloser(strings.NewReader(exampleChunkBody)), chunkConfig{signer: s, decodedLength: mustAtoi(t, n)})
			_, err := io.ReadAll(d)
			require.ErrorIs(t, err, ErrIncompleteBody)
			_, err = newVerifier(exampleTime).Verify(serverRequest("PUT", "/examplebucket/chunkObject.txt", "s3.amazonaws.com", h, []byte(exampleChunkBody)))
			require.ErrorIs(t, err, ErrSignatureDoesNotMatch)
		})
	}
}
