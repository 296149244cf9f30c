package s3err

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/gateway/s3xml"
	"github.com/cairn-io/cairn/node/gateway/sigv4"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/proto/metapb"
)

func TestFromError(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		code   string
		status int
	}{
		{"sigv4.ErrSignatureDoesNotMatch", sigv4.ErrSignatureDoesNotMatch, "SignatureDoesNotMatch", 403},
		{"sigv4.ErrChunkSignatureMismatch", sigv4.ErrChunkSignatureMismatch, "SignatureDoesNotMatch", 403},
		{"sigv4.ErrInvalidAccessKeyID", sigv4.ErrInvalidAccessKeyID, "InvalidAccessKeyId", 403},
		{"sigv4.ErrAuthorizationMalformed", sigv4.ErrAuthorizationMalformed, "AuthorizationHeaderMalformed", 400},
		{"sigv4.ErrRequestTimeTooSkewed", sigv4.ErrRequestTimeTooSkewed, "RequestTimeTooSkewed", 403},
		{"sigv4.ErrRequestExpired", sigv4.ErrRequestExpired, "AccessDenied", 403},
		{"sigv4.ErrContentSHA256Mismatch", sigv4.ErrContentSHA256Mismatch, "XAmzContentSHA256Mismatch", 400},
		{"sigv4.ErrMissingContentSHA256", sigv4.ErrMissingContentSHA256, "InvalidRequest", 400},
		{"sigv4.ErrInvalidContentSHA256", sigv4.ErrInvalidContentSHA256, "InvalidArgument", 400},
		{"sigv4.ErrMissingDate", sigv4.ErrMissingDate, "AccessDenied", 403},
		{"sigv4.ErrUnsupportedAlgorithm", sigv4.ErrUnsupportedAlgorithm, "InvalidRequest", 400},
		{"sigv4.ErrMalformedChunk", sigv4.ErrMalformedChunk, "IncompleteBody", 400},
		{"sigv4.ErrIncompleteBody", sigv4.ErrIncompleteBody, "IncompleteBody", 400},
		{"sigv4.ErrTrailerChecksumMismatch", sigv4.ErrTrailerChecksumMismatch, "BadDigest", 400},
		{"sigv4.ErrInvalidConfig", sigv4.ErrInvalidConfig, "InternalError", 500},
		{"objio.ErrInsufficientDrives", objio.ErrInsufficientDrives, "SlowDown", 503},
		{"objio.ErrShardWrite", objio.ErrShardWrite, "ServiceUnavailable", 503},
		{"objio.ErrDataUnavailable", objio.ErrDataUnavailable, "ServiceUnavailable", 503},
		{"objio.ErrPoolClosed", objio.ErrPoolClosed, "ServiceUnavailable", 503},
		{"objio.ErrInvalidArgument", objio.ErrInvalidArgument, "InternalError", 500},
		{"objio.ErrInvalidConfig", objio.ErrInvalidConfig, "InternalError", 500},
		{"s3xml.ErrMalformed", s3xml.ErrMalformed, "MalformedXML", 400},
		{"meta BUCKET_ALREADY_EXISTS", &MetaError{Code: metapb.ErrorCode_BUCKET_ALREADY_EXISTS}, "BucketAlreadyExists", 409},
		{"meta NO_SUCH_BUCKET", &MetaError{Code: metapb.ErrorCode_NO_SUCH_BUCKET}, "NoSuchBucket", 404},
		{"meta BUCKET_NOT_EMPTY", &MetaError{Code: metapb.ErrorCode_BUCKET_NOT_EMPTY}, "BucketNotEmpty", 409},
		{"meta NO_SUCH_KEY", &MetaError{Code: metapb.ErrorCode_NO_SUCH_KEY}, "NoSuchKey", 404},
		{"meta NO_SUCH_VERSION", &MetaError{Code: metapb.ErrorCode_NO_SUCH_VERSION}, "NoSuchVersion", 404},
		{"meta PRECONDITION_FAILED", &MetaError{Code: metapb.ErrorCode_PRECONDITION_FAILED}, "PreconditionFailed", 412},
		{"meta INVALID_ARGUMENT", &MetaError{Code: metapb.ErrorCode_INVALID_ARGUMENT}, "InvalidArgument", 400},
		{"meta NO_SUCH_UPLOAD", &MetaError{Code: metapb.ErrorCode_NO_SUCH_UPLOAD}, "NoSuchUpload", 404},
		{"meta INVALID_PART", &MetaError{Code: metapb.ErrorCode_INVALID_PART}, "InvalidPart", 400},
		{"meta INVALID_PART_ORDER", &MetaError{Code: metapb.ErrorCode_INVALID_PART_ORDER}, "InvalidPartOrder", 400},
		{"meta ENTITY_TOO_SMALL", &MetaError{Code: metapb.ErrorCode_ENTITY_TOO_SMALL}, "EntityTooSmall", 400},
		{"meta ACCESS_DENIED", &MetaError{Code: metapb.ErrorCode_ACCESS_DENIED}, "AccessDenied", 403},
		{"meta unknown code", &MetaError{Code: metapb.ErrorCode(99)}, "InternalError", 500},
		{"grpc Unavailable", status.Error(codes.Unavailable, "no leader"), "ServiceUnavailable", 503},
		{"grpc DeadlineExceeded", status.Error(codes.DeadlineExceeded, "meta node hung"), "ServiceUnavailable", 503},
		{"stalled body", fmt.Errorf("%w: no bytes for 30s", RequestTimeout), "RequestTimeout", 400},
		{"data unavailable wrapping shard statuses", fmt.Errorf("%w: %w", objio.ErrDataUnavailable, status.Error(codes.ResourceExhausted, "x")), "ServiceUnavailable", 503},
		{"grpc ResourceExhausted", status.Error(codes.ResourceExhausted, "busy"), "SlowDown", 503},
		{"grpc Internal", status.Error(codes.Internal, "boom"), "InternalError", 500},
		{"deadline", context.DeadlineExceeded, "ServiceUnavailable", 503},
		{"unknown", errors.New("disk on fire"), "InternalError", 500},
		{"s3 error", NoSuchKey, "NoSuchKey", 404},
		{"wrapped s3 error", fmt.Errorf("get: %w", KeyTooLongError), "KeyTooLongError", 400},
		{"s3 error wins over cause", fmt.Errorf("%w: %w", IncompleteBody, errors.New("eof")), "IncompleteBody", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, err := range []error{tc.err, fmt.Errorf("op on thing: %w", tc.err)} {
				e := FromError(err)
				require.Equal(t, tc.code, e.Code)
				require.Equal(t, tc.status, e.Status)
				require.NotEmpty(t, e.Message)
			}
		})
	}
	require.Nil(t, FromError(nil))
	require.Nil(t, FromCode(metapb.ErrorCode_OK))
}

func TestTable(t *testing.T) {
	cases := []struct {
		e      *Error
		code   string
		status int
	}{
		{AccessDenied, "AccessDenied", 403},
		{AuthorizationHeaderMalformed, "AuthorizationHeaderMalformed", 400},
		{BadDigest, "BadDigest", 400},
		{BucketAlreadyExists, "BucketAlreadyExists", 409},
		{BucketAlreadyOwnedByYou, "BucketAlreadyOwnedByYou", 409},
		{BucketNotEmpty, "BucketNotEmpty", 409},
		{EntityTooLarge, "EntityTooLarge", 400},
		{IllegalLocationConstraint, "IllegalLocationConstraintException", 400},
		{IncompleteBody, "IncompleteBody", 400},
		{InternalError, "InternalError", 500},
		{InvalidAccessKeyID, "InvalidAccessKeyId", 403},
		{InvalidArgument, "InvalidArgument", 400},
		{InvalidBucketName, "InvalidBucketName", 400},
		{InvalidDigest, "InvalidDigest", 400},
		{InvalidRange, "InvalidRange", 416},
		{InvalidRequest, "InvalidRequest", 400},
		{KeyTooLongError, "KeyTooLongError", 400},
		{MalformedXML, "MalformedXML", 400},
		{MetadataTooLarge, "MetadataTooLarge", 400},
		{MethodNotAllowed, "MethodNotAllowed", 405},
		{MissingContentLength, "MissingContentLength", 411},
		{NoSuchBucket, "NoSuchBucket", 404},
		{NoSuchKey, "NoSuchKey", 404},
		{NoSuchVersion, "NoSuchVersion", 404},
		{NotImplemented, "NotImplemented", 501},
		{PreconditionFailed, "PreconditionFailed", 412},
		{RequestTimeTooSkewed, "RequestTimeTooSkewed", 403},
		{RequestTimeout, "RequestTimeout", 400},
		{ServiceUnavailable, "ServiceUnavailable", 503},
		{SignatureDoesNotMatch, "SignatureDoesNotMatch", 403},
		{SlowDown, "SlowDown", 503},
		{XAmzContentSHA256Mismatch, "XAmzContentSHA256Mismatch", 400},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			require.Equal(t, tc.code, tc.e.Code)
			require.Equal(t, tc.status, tc.e.Status)
			require.NotEmpty(t, tc.e.Message)
		})
	}
}

// TestHonest503 checks that unreadable data is not blamed on the client's
// request rate.
func TestHonest503(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("read: %w", objio.ErrDataUnavailable),
		fmt.Errorf("read: %w: %w", objio.ErrDataUnavailable, status.Error(codes.DataLoss, "rot")),
	} {
		e := FromError(err)
		require.Equal(t, "ServiceUnavailable", e.Code)
		require.Contains(t, e.Message, "temporarily unavailable")
	}
	require.NotContains(t, ServiceUnavailable.Message, "request rate")
}

func TestWithMessage(t *testing.T) {
	e := NoSuchKey.WithMessage("gone")
	require.Equal(t, "gone", e.Message)
	require.NotEqual(t, "gone", NoSuchKey.Message, "the table entry is unchanged")
	require.ErrorIs(t, e, NoSuchKey)
	require.NotErrorIs(t, e, NoSuchBucket)
}

func TestWriteXML(t *testing.T) {
	t.Run("GET", func(t *testing.T) {
		rec := httptest.NewRecorder()
		rec.Header().Set("x-amz-id-2", "host-id")
		WriteXML(rec, httptest.NewRequest(http.MethodGet, "/b/k", nil), NoSuchKey, "/b/k", "REQ1")
		require.Equal(t, 404, rec.Code)
		require.Equal(t, "application/xml", rec.Header().Get("Content-Type"))
		var doc s3xml.Error
		require.NoError(t, xml.Unmarshal(rec.Body.Bytes(), &doc))
		require.Equal(t, s3xml.Error{XMLName: xml.Name{Local: "Error"}, Code: "NoSuchKey", Message: NoSuchKey.Message,
			Resource: "/b/k", RequestID: "REQ1", HostID: "host-id"}, doc)
	})
	t.Run("HEAD", func(t *testing.T) {
		rec := httptest.NewRecorder()
		WriteXML(rec, httptest.NewRequest(http.MethodHead, "/b/k", nil), NoSuchKey, "/b/k", "REQ1")
		require.Equal(t, 404, rec.Code)
		require.Empty(t, rec.Body.Bytes())
	})
}
