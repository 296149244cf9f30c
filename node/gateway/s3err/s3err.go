// Package s3err is the gateway's single table from Go errors to S3 errors:
// the AWS error code, the HTTP status and the message a client sees.
//
// Handlers return errors; the gateway turns them into responses only here,
// through FromError, so that a sentinel of sigv4 or objio, a meta error code
// or a gRPC status always yields the same S3 error. Anything unknown becomes
// InternalError with a generic message: details stay in the server log.
package s3err

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairn-io/cairn/node/gateway/access"
	"github.com/cairn-io/cairn/node/gateway/s3xml"
	"github.com/cairn-io/cairn/node/gateway/sigv2"
	"github.com/cairn-io/cairn/node/gateway/sigv4"
	"github.com/cairn-io/cairn/node/gateway/sse"
	"github.com/cairn-io/cairn/node/objio"
	"github.com/cairn-io/cairn/proto/metapb"
)

// Error is one S3 error. The package variables are shared: derive a
// variant with WithMessage instead of changing them.
type Error struct {
	Code    string
	Status  int
	Message string
}

// Error implements error, so that handlers can return an S3 error directly.
func (e *Error) Error() string { return fmt.Sprintf("s3 %s (%d): %s", e.Code, e.Status, e.Message) }

// WithMessage returns a copy of e with another message.
func (e *Error) WithMessage(msg string) *Error {
	c := *e
	c.Message = msg
	return &c
}

// Is makes errors.Is match S3 errors by code, so that a WithMessage copy
// still matches its table entry.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

func newErr(code string, status int, msg string) *Error {
	return &Error{Code: code, Status: status, Message: msg}
}

// The AWS error table (the subset the gateway produces).
var (
	AccessDenied                 = newErr("AccessDenied", http.StatusForbidden, "Access Denied")
	AuthorizationHeaderMalformed = newErr("AuthorizationHeaderMalformed", http.StatusBadRequest, "The authorization header is malformed.")
	BadDigest                    = newErr("BadDigest", http.StatusBadRequest, "The Content-MD5 or checksum you specified did not match what we received.")
	BucketAlreadyExists          = newErr("BucketAlreadyExists", http.StatusConflict, "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.")
	BucketAlreadyOwnedByYou      = newErr("BucketAlreadyOwnedByYou", http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it.")
	BucketNotEmpty               = newErr("BucketNotEmpty", http.StatusConflict, "The bucket you tried to delete is not empty")
	EntityTooLarge               = newErr("EntityTooLarge", http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed object size.")
	IllegalVersioningConfig      = newErr("IllegalVersioningConfigurationException", http.StatusBadRequest, "The Versioning element must be specified")
	IllegalLocationConstraint    = newErr("IllegalLocationConstraintException", http.StatusBadRequest, "The location constraint specified does not match the region of this endpoint.")
	IncompleteBody               = newErr("IncompleteBody", http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header.")
	InternalError                = newErr("InternalError", http.StatusInternalServerError, "We encountered an internal error. Please try again.")
	InvalidAccessKeyID           = newErr("InvalidAccessKeyId", http.StatusForbidden, "The AWS Access Key Id you provided does not exist in our records.")
	InvalidArgument              = newErr("InvalidArgument", http.StatusBadRequest, "Invalid Argument")
	InvalidBucketName            = newErr("InvalidBucketName", http.StatusBadRequest, "The specified bucket is not valid.")
	InvalidBucketState           = newErr("InvalidBucketState", http.StatusConflict, "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.")
	InvalidDigest                = newErr("InvalidDigest", http.StatusBadRequest, "The Content-MD5 you specified is not valid.")
	InvalidRange                 = newErr("InvalidRange", http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable")
	InvalidVersionID             = newErr("InvalidArgument", http.StatusBadRequest, "Invalid version id specified")
	InvalidRequest               = newErr("InvalidRequest", http.StatusBadRequest, "Invalid Request")
	InvalidStorageClass          = newErr("InvalidStorageClass", http.StatusBadRequest, "The storage class you specified is not valid")
	InvalidTag                   = newErr("InvalidTag", http.StatusBadRequest, "The TagValue you have provided is invalid")
	KeyTooLongError              = newErr("KeyTooLongError", http.StatusBadRequest, "Your key is too long")
	MalformedXML                 = newErr("MalformedXML", http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema.")
	MetadataTooLarge             = newErr("MetadataTooLarge", http.StatusBadRequest, "Your metadata headers exceed the maximum allowed metadata size.")
	MethodNotAllowed             = newErr("MethodNotAllowed", http.StatusMethodNotAllowed, "The specified method is not allowed against this resource.")
	MissingContentLength         = newErr("MissingContentLength", http.StatusLengthRequired, "You must provide the Content-Length HTTP header.")
	NoSuchBucket                 = newErr("NoSuchBucket", http.StatusNotFound, "The specified bucket does not exist")
	NoSuchKey                    = newErr("NoSuchKey", http.StatusNotFound, "The specified key does not exist.")
	NoSuchObjectLockConfig       = newErr("NoSuchObjectLockConfiguration", http.StatusNotFound, "The specified object does not have a ObjectLock configuration")
	NoSuchVersion                = newErr("NoSuchVersion", http.StatusNotFound, "The specified version does not exist.")
	ObjectLockConfigNotFound     = newErr("ObjectLockConfigurationNotFoundError", http.StatusNotFound, "Object Lock configuration does not exist for this bucket")
	NotImplemented               = newErr("NotImplemented", http.StatusNotImplemented, "A header or query you provided implies functionality that is not implemented.")
	PreconditionFailed           = newErr("PreconditionFailed", http.StatusPreconditionFailed, "At least one of the pre-conditions you specified did not hold")
	RequestTimeTooSkewed         = newErr("RequestTimeTooSkewed", http.StatusForbidden, "The difference between the request time and the server's time is too large.")
	RequestTimeout               = newErr("RequestTimeout", http.StatusBadRequest, "Your socket connection to the server was not read from or written to within the timeout period.")
	ServiceUnavailable           = newErr("ServiceUnavailable", http.StatusServiceUnavailable, "Service is unable to handle request.")
	SignatureDoesNotMatch        = newErr("SignatureDoesNotMatch", http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	SlowDown                     = newErr("SlowDown", http.StatusServiceUnavailable, "Please reduce your request rate.")
	UserKeyMustBeSpecified       = newErr("UserKeyMustBeSpecified", http.StatusBadRequest, "The request was not a valid request. A key must be specified.")
	XAmzContentSHA256Mismatch    = newErr("XAmzContentSHA256Mismatch", http.StatusBadRequest, "The provided 'x-amz-content-sha256' header does not match what was computed.")
)

// sentinels maps the sentinel errors of the packages below the gateway.
// Order matters only where one error wraps several sentinels: the first
// match wins.
var sentinels = []struct {
	err error
	s3  *Error
}{
	{sigv4.ErrSignatureDoesNotMatch, SignatureDoesNotMatch},
	{sigv4.ErrChunkSignatureMismatch, SignatureDoesNotMatch},
	{sigv4.ErrInvalidAccessKeyID, InvalidAccessKeyID},
	{sigv4.ErrAuthorizationMalformed, AuthorizationHeaderMalformed},
	{sigv4.ErrRequestTimeTooSkewed, RequestTimeTooSkewed},
	{sigv4.ErrRequestExpired, AccessDenied.WithMessage("Request has expired")},
	{sigv4.ErrContentSHA256Mismatch, XAmzContentSHA256Mismatch},
	{sigv4.ErrMissingContentSHA256, InvalidRequest.WithMessage("Missing required header for this request: x-amz-content-sha256")},
	{sigv4.ErrInvalidContentSHA256, InvalidArgument.WithMessage("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER or a valid sha256 value.")},
	{sigv4.ErrInvalidConfig, InternalError},
	{sigv4.ErrMissingDate, AccessDenied.WithMessage("AWS authentication requires a valid Date or x-amz-date header")},
	{sigv4.ErrUnsupportedAlgorithm, InvalidRequest.WithMessage("The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.")},
	{sigv4.ErrMalformedChunk, IncompleteBody.WithMessage("The aws-chunked body is malformed or truncated.")},
	{sigv4.ErrIncompleteBody, IncompleteBody},
	{sigv2.ErrMalformedHeader, InvalidArgument.WithMessage("AWS authorization header is invalid.  Expected AwsAccessKeyId:signature")},
	{sigv2.ErrMissingQueryParams, AccessDenied.WithMessage("Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")},
	{sigv2.ErrInvalidExpires, AccessDenied.WithMessage("Invalid date (should be seconds since epoch)")},
	{sigv4.ErrTrailerChecksumMismatch, BadDigest.WithMessage("The checksum you specified in the trailer did not match the calculated checksum.")},
	{objio.ErrInsufficientDrives, SlowDown},
	{objio.ErrShardWrite, ServiceUnavailable.WithMessage("The object could not be stored durably. Please try again.")},
	{objio.ErrDataUnavailable, ServiceUnavailable.WithMessage("The object's data is temporarily unavailable. Please try again.")},
	{objio.ErrPoolClosed, ServiceUnavailable},
	{objio.ErrInvalidArgument, InternalError},
	{objio.ErrInvalidConfig, InternalError},
	{sse.ErrNoSuchKMSKey, KMSNotFound},
	{s3xml.ErrMalformed, MalformedXML},
	{access.ErrMalformedPolicy, MalformedPolicy},
	{access.ErrCannedAndGrants, InvalidRequest.WithMessage("Specifying both Canned ACLs and Header Grants is not allowed")},
	{access.ErrInvalidCannedACL, InvalidArgument},
	{access.ErrEmailGrant, UnresolvableGrantByEmailAddress},
	{access.ErrInvalidGrant, InvalidArgument},
}

// MetaError carries an error code of the meta service as a Go error, so
// that handlers can return it and FromError can map it.
type MetaError struct {
	Code    metapb.ErrorCode
	Message string
}

func (e *MetaError) Error() string {
	if e.Message == "" {
		return "meta: " + e.Code.String()
	}
	return "meta: " + e.Code.String() + ": " + e.Message
}

// FromCode maps a meta error code; OK maps to nil.
func FromCode(code metapb.ErrorCode) *Error {
	switch code {
	case metapb.ErrorCode_OK:
		return nil
	case metapb.ErrorCode_BUCKET_ALREADY_EXISTS:
		return BucketAlreadyExists
	case metapb.ErrorCode_NO_SUCH_BUCKET:
		return NoSuchBucket
	case metapb.ErrorCode_BUCKET_NOT_EMPTY:
		return BucketNotEmpty
	case metapb.ErrorCode_NO_SUCH_KEY:
		return NoSuchKey
	case metapb.ErrorCode_NO_SUCH_VERSION:
		return NoSuchVersion
	case metapb.ErrorCode_PRECONDITION_FAILED:
		return PreconditionFailed
	case metapb.ErrorCode_INVALID_ARGUMENT:
		return InvalidArgument
	case metapb.ErrorCode_NO_SUCH_UPLOAD:
		return NoSuchUpload
	case metapb.ErrorCode_INVALID_PART:
		return InvalidPart
	case metapb.ErrorCode_INVALID_PART_ORDER:
		return InvalidPartOrder
	case metapb.ErrorCode_ENTITY_TOO_SMALL:
		return EntityTooSmall
	case metapb.ErrorCode_ACCESS_DENIED:
		return AccessDenied
	default:
		return InternalError
	}
}

// FromError maps any error to the S3 error a client should see. nil maps
// to nil; an unknown error to InternalError.
func FromError(err error) *Error {
	if err == nil {
		return nil
	}
	var s3e *Error
	if errors.As(err, &s3e) {
		return s3e
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.s3
		}
	}
	var me *MetaError
	if errors.As(err, &me) {
		return FromCode(me.Code)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ServiceUnavailable
	}
	// A gRPC status here comes from a meta or storage call that no
	// sentinel above claimed. A node that is down, hung (its call timed
	// out) or without a leader is ServiceUnavailable; only a node refusing
	// work (ResourceExhausted) says SlowDown, which tells a client to ask
	// less often.
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted:
			return ServiceUnavailable
		case codes.ResourceExhausted:
			return SlowDown
		}
	}
	return InternalError
}

// WriteXML writes e as an S3 error response. HEAD responses get the status
// only, as AWS sends them. The request ID goes into the body; the caller
// has already set it (and x-amz-id-2, used as HostId) as headers.
func WriteXML(w http.ResponseWriter, r *http.Request, e *Error, resource, requestID string) {
	h := w.Header()
	if r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	h.Set("Content-Type", "application/xml")
	w.WriteHeader(e.Status)
	// The status is already out; a failed write means the client left.
	_ = s3xml.Encode(w, &s3xml.Error{
		Code:      e.Code,
		Message:   e.Message,
		Resource:  resource,
		RequestID: requestID,
		HostID:    h.Get("x-amz-id-2"),
	})
}
