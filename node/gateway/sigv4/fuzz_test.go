package sigv4

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/node/gateway/checksum"
)

// fuzzConfig picks one of the decoder's modes from a byte.
func fuzzConfig(mode byte) chunkConfig {
	s := exampleSigner()
	cfg := chunkConfig{decodedLength: -1}
	switch mode % 4 {
	case 0:
		s.prev = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
		cfg.signer = s
	case 1:
		s.prev = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
		cfg.signer, cfg.trailer, cfg.declared = s, true, checksum.CRC32C
	case 2:
		cfg.trailer, cfg.declared = true, checksum.CRC32
	case 3:
		cfg.trailer = true
	}
	if mode&4 != 0 {
		cfg.decodedLength = fuzzDataLen
	}
	return cfg
}

// fuzzDataLen keeps seeds small: the fuzzer minimises every new input, which
// takes minutes on bodies the size of AWS's 66 KB examples.
const fuzzDataLen = 100

func FuzzChunkDecoder(f *testing.F) {
	data := bytes.Repeat([]byte("a"), fuzzDataLen)
	signed, signedTrailer := fuzzConfig(0).signer, fuzzConfig(1).signer
	f.Add(encodeChunks(signed, data, 16, false), byte(4))
	f.Add(encodeChunks(signed, data, 64, false), byte(4|8))
	f.Add(encodeChunks(signedTrailer, data, 30, true, "x-amz-checksum-crc32c:"+checksumOf(checksum.CRC32C, data)), byte(5))
	f.Add(encodeChunks(nil, data, 8, true, "x-amz-checksum-crc32:"+checksumOf(checksum.CRC32, data)), byte(6))
	f.Add(encodeChunks(nil, data, 7, true), byte(3))
	f.Add(encodeChunks(nil, data, 7, true), byte(3|8))
	f.Add([]byte("0\r\n\r\n"), byte(3))
	f.Add([]byte("0\r\n\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"), byte(2))
	f.Add([]byte("ffffff;chunk-signature=00\r\n"), byte(0))
	f.Add([]byte("1;chunk-signature=;chunk-signature=\r\na\r\n"), byte(0))
	f.Add([]byte("3\r\nabc\r\n0\r\nx-amz-trailer-signature:zz\r\n\r\n"), byte(1))
	f.Add([]byte(strings.Repeat("\r\n", 40)), byte(3))
	f.Fuzz(func(t *testing.T, body []byte, mode byte) {
		cfg := fuzzConfig(mode)
		var r io.Reader = bytes.NewReader(body)
		if mode&8 != 0 {
			r = iotest.OneByteReader(r)
		}
		d := newChunkDecoder(io.NopCloser(r), cfg)
		got, err := io.ReadAll(d)
		if err != nil {
			if !errors.Is(err, ErrIncompleteBody) && !errors.Is(err, ErrMalformedChunk) &&
				!errors.Is(err, ErrChunkSignatureMismatch) && !errors.Is(err, ErrTrailerChecksumMismatch) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if cfg.decodedLength >= 0 {
			require.Len(t, got, int(cfg.decodedLength))
		}
		require.LessOrEqual(t, len(got), len(body))
		if cfg.declared != "" {
			alg, val := d.TrailerChecksum()
			require.Equal(t, cfg.declared, alg)
			require.Equal(t, checksumOf(cfg.declared, got), val)
		}
	})
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add(exampleAuth("host;range;x-amz-content-sha256;x-amz-date", "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"))
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e/20250314/r/s3/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("ab", 32))
	f.Add("AWS4-HMAC-SHA256 Credential=,SignedHeaders=,Signature=")
	f.Add("AWS4-HMAC-SHA256 ,,,, =")
	f.Add("AWS AKID:sig")
	f.Add("AWS4-ECDSA-P256-SHA256 Credential=x")
	f.Add("")
	f.Add(strings.TrimPrefix(examplePresignedTarget, "/test.txt?"))
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseAuthorization(s)
		if err == nil {
			require.Len(t, a.signature, 32)
			require.Contains(t, a.headerNames, "host")
			require.NotEmpty(t, a.cred.accessKey)
			back, err := parseCredential(a.cred.accessKey + "/" + a.cred.scope())
			require.NoError(t, err)
			require.Equal(t, a.cred, back)
		} else if !errors.Is(err, ErrAuthorizationMalformed) && !errors.Is(err, ErrUnsupportedAlgorithm) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}

		// The whole verifier must survive the same input as a header and as a
		// query string.
		v := newVerifier(exampleTime)
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/b/k", RawQuery: s}, Header: http.Header{}, Host: "h", Body: http.NoBody}
		r.Header.Set("Authorization", s)
		r.Header.Set("X-Amz-Content-Sha256", emptySHA256)
		r.Header.Set("X-Amz-Date", exampleAmzDate)
		_, _ = v.Verify(r)
		r.Header.Del("Authorization")
		_, _ = v.Verify(r)
		_ = canonicalQuery(s, true)
	})
}
