package sigv4

import "errors"

// Sentinels, one per distinct S3 error the gateway must answer. The comment
// names the S3 error code and HTTP status each maps to.
var (
	// ErrSignatureDoesNotMatch: 403 SignatureDoesNotMatch.
	ErrSignatureDoesNotMatch = errors.New("sigv4: signature does not match")
	// ErrInvalidAccessKeyID: 403 InvalidAccessKeyId.
	ErrInvalidAccessKeyID = errors.New("sigv4: unknown access key id")
	// ErrAuthorizationMalformed: 400 AuthorizationHeaderMalformed (header
	// form) or AuthorizationQueryParametersError (presigned form).
	ErrAuthorizationMalformed = errors.New("sigv4: malformed authorization")
	// ErrRequestTimeTooSkewed: 403 RequestTimeTooSkewed.
	ErrRequestTimeTooSkewed = errors.New("sigv4: request time too skewed")
	// ErrRequestExpired: 403 AccessDenied "Request has expired".
	ErrRequestExpired = errors.New("sigv4: request has expired")
	// ErrMissingDate: 403 AccessDenied "AWS authentication requires a valid
	// Date or x-amz-date header".
	ErrMissingDate = errors.New("sigv4: missing or invalid date")
	// ErrUnsupportedAlgorithm: 400 InvalidArgument (e.g. Signature V2,
	// SigV4a), or 501 NotImplemented at the gateway's discretion.
	ErrUnsupportedAlgorithm = errors.New("sigv4: unsupported signing algorithm")
	// ErrMissingContentSHA256: 400 InvalidRequest "Missing required header
	// for this request: x-amz-content-sha256".
	ErrMissingContentSHA256 = errors.New("sigv4: missing x-amz-content-sha256")
	// ErrInvalidContentSHA256: 400 InvalidArgument "x-amz-content-sha256 must
	// be UNSIGNED-PAYLOAD, STREAMING-... or a valid sha256 value".
	ErrInvalidContentSHA256 = errors.New("sigv4: invalid x-amz-content-sha256")
	// ErrContentSHA256Mismatch: 400 XAmzContentSHA256Mismatch.
	ErrContentSHA256Mismatch = errors.New("sigv4: body does not match x-amz-content-sha256")
	// ErrChunkSignatureMismatch: 403 SignatureDoesNotMatch, found mid-body.
	ErrChunkSignatureMismatch = errors.New("sigv4: chunk signature does not match")
	// ErrMalformedChunk: 400 IncompleteBody or InvalidRequest.
	ErrMalformedChunk = errors.New("sigv4: malformed aws-chunked body")
	// ErrIncompleteBody: 400 IncompleteBody; the body ended early or its
	// decoded size differs from x-amz-decoded-content-length.
	ErrIncompleteBody = errors.New("sigv4: incomplete body")
	// ErrTrailerChecksumMismatch: 400 BadDigest ("The CRC32 you specified did
	// not match the calculated checksum.").
	ErrTrailerChecksumMismatch = errors.New("sigv4: trailing checksum does not match")
	// ErrInvalidConfig: a Verifier is unusable (no Credentials, negative
	// MaxSkew). A server bug, not a client error: 500.
	ErrInvalidConfig = errors.New("sigv4: invalid verifier config")
)
