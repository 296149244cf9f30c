package gateway

import (
	"context"
	"net/http"
	"net/url"

	"github.com/cairn-io/cairn/node/gateway/s3err"
)

// handler serves one S3 operation; handlers are Gateway methods, named in
// the route table by method expression.
type handler func(g *Gateway, ctx context.Context, w http.ResponseWriter, rq *request) error

// operation is one S3 operation a request resolves to. The route table is
// the one place that pairs the IAM action that authorizes an operation
// with the handler that serves it, so the action checked is always the
// action of the code that runs.
type operation struct {
	// action authorizes the operation; versionAction, when set, replaces
	// it for a request that names a version (?versionId=…).
	action, versionAction string
	serve                 handler
	// err, when set, answers the request without authorization or
	// handler: an operation the gateway does not implement.
	err error
}

// actionFor returns the IAM action that authorizes op for a request with
// query q.
func (op operation) actionFor(q url.Values) string {
	if op.versionAction != "" && q.Get("versionId") != "" {
		return op.versionAction
	}
	return op.action
}

// methods maps HTTP methods to the operations they select. A method not
// listed is answered MethodNotAllowed, unless anyMethod is.
type methods map[string]operation

// anyMethod keys the operation of every method not listed otherwise.
const anyMethod = "*"

// notImplemented answers every method with NotImplemented.
var notImplemented = methods{anyMethod: {err: s3err.NotImplemented}}

// subresource is an S3 query parameter that selects an operation other
// than the plain one, with its operations on a bucket and on an object. A
// nil map means the sub-resource does not exist at that level: every
// method is answered MethodNotAllowed.
type subresource struct {
	name           string
	bucket, object methods
}

// subresources in precedence order: when a request carries several, the
// first listed decides the operation.
var subresources = []subresource{
	{"encryption", methods{
		http.MethodGet:    {action: "s3:GetEncryptionConfiguration", serve: (*Gateway).getBucketEncryption},
		http.MethodPut:    {action: "s3:PutEncryptionConfiguration", serve: (*Gateway).putBucketEncryption},
		http.MethodDelete: {action: "s3:PutEncryptionConfiguration", serve: (*Gateway).deleteBucketEncryption},
	}, notImplemented},
	{"object-lock", methods{
		http.MethodGet: {action: "s3:GetBucketObjectLockConfiguration", serve: (*Gateway).getObjectLockConfig},
		http.MethodPut: {action: "s3:PutBucketObjectLockConfiguration", serve: (*Gateway).putObjectLockConfig},
	}, notImplemented},
	{"tagging", methods{
		http.MethodGet:    {action: "s3:GetBucketTagging", serve: (*Gateway).getBucketTagging},
		http.MethodPut:    {action: "s3:PutBucketTagging", serve: (*Gateway).putBucketTagging},
		http.MethodDelete: {action: "s3:PutBucketTagging", serve: (*Gateway).deleteBucketTagging},
	}, methods{
		http.MethodGet:    {action: "s3:GetObjectTagging", versionAction: "s3:GetObjectVersionTagging", serve: (*Gateway).getObjectTagging},
		http.MethodPut:    {action: "s3:PutObjectTagging", versionAction: "s3:PutObjectVersionTagging", serve: (*Gateway).putObjectTagging},
		http.MethodDelete: {action: "s3:DeleteObjectTagging", versionAction: "s3:DeleteObjectVersionTagging", serve: (*Gateway).deleteObjectTagging},
	}},
	{"retention", notImplemented, methods{
		http.MethodGet: {action: "s3:GetObjectRetention", serve: (*Gateway).getObjectRetention},
		http.MethodPut: {action: "s3:PutObjectRetention", serve: (*Gateway).putObjectRetention},
	}},
	{"legal-hold", notImplemented, methods{
		http.MethodGet: {action: "s3:GetObjectLegalHold", serve: (*Gateway).getObjectLegalHold},
		http.MethodPut: {action: "s3:PutObjectLegalHold", serve: (*Gateway).putObjectLegalHold},
	}},
	{"uploads", methods{
		http.MethodGet: {action: "s3:ListBucketMultipartUploads", serve: (*Gateway).listMultipartUploads},
	}, methods{
		http.MethodPost: {action: "s3:PutObject", serve: (*Gateway).createMultipartUpload},
	}},
	{"lifecycle", methods{
		http.MethodGet:    {action: "s3:GetLifecycleConfiguration", serve: (*Gateway).getBucketLifecycle},
		http.MethodPut:    {action: "s3:PutLifecycleConfiguration", serve: (*Gateway).putBucketLifecycle},
		http.MethodDelete: {action: "s3:PutLifecycleConfiguration", serve: (*Gateway).deleteBucketLifecycle},
	}, nil},
	{"uploadId", nil, methods{
		http.MethodPut:    {action: "s3:PutObject", serve: (*Gateway).uploadPartOrCopy},
		http.MethodPost:   {action: "s3:PutObject", serve: (*Gateway).completeMultipartUpload},
		http.MethodGet:    {action: "s3:ListMultipartUploadParts", serve: (*Gateway).listParts},
		http.MethodDelete: {action: "s3:AbortMultipartUpload", serve: (*Gateway).abortMultipartUpload},
	}},
	// Operations S3 has and the gateway does not implement: answered
	// NotImplemented rather than served as the plain operation.
	{"accelerate", notImplemented, notImplemented},
	{"analytics", notImplemented, notImplemented},
	{"attributes", nil, methods{
		http.MethodGet: {action: "s3:GetObjectAttributes", versionAction: "s3:GetObjectVersionAttributes", serve: (*Gateway).getObjectAttributes},
	}},
	{"cors", methods{
		http.MethodGet:    {action: "s3:GetBucketCORS", serve: (*Gateway).getBucketCors},
		http.MethodPut:    {action: "s3:PutBucketCORS", serve: (*Gateway).putBucketCors},
		http.MethodDelete: {action: "s3:PutBucketCORS", serve: (*Gateway).deleteBucketCors},
	}, nil},
	{"intelligent-tiering", notImplemented, notImplemented},
	{"inventory", notImplemented, notImplemented},
	{"logging", notImplemented, notImplemented},
	{"metadata-configuration", notImplemented, notImplemented},
	{"metrics", notImplemented, notImplemented},
	{"notification", notImplemented, notImplemented},
	{"policyStatus", methods{
		http.MethodGet: {action: "s3:GetBucketPolicyStatus", serve: (*Gateway).getBucketPolicyStatus},
	}, nil},
	{"publicAccessBlock", methods{
		http.MethodGet:    {action: "s3:GetBucketPublicAccessBlock", serve: (*Gateway).getPublicAccessBlock},
		http.MethodPut:    {action: "s3:PutBucketPublicAccessBlock", serve: (*Gateway).putPublicAccessBlock},
		http.MethodDelete: {action: "s3:PutBucketPublicAccessBlock", serve: (*Gateway).deletePublicAccessBlock},
	}, nil},
	{"replication", notImplemented, notImplemented},
	{"requestPayment", notImplemented, notImplemented},
	{"restore", notImplemented, notImplemented},
	{"select", notImplemented, notImplemented},
	{"session", notImplemented, notImplemented},
	{"torrent", notImplemented, notImplemented},
	{"website", notImplemented, notImplemented},
	{"acl", methods{
		http.MethodGet: {action: "s3:GetBucketAcl", serve: (*Gateway).getBucketACL},
		http.MethodPut: {action: "s3:PutBucketAcl", serve: (*Gateway).putBucketACL},
	}, methods{
		http.MethodGet: {action: "s3:GetObjectAcl", versionAction: "s3:GetObjectVersionAcl", serve: (*Gateway).getObjectACL},
		http.MethodPut: {action: "s3:PutObjectAcl", versionAction: "s3:PutObjectVersionAcl", serve: (*Gateway).putObjectACL},
	}},
	{"policy", methods{
		http.MethodGet:    {action: "s3:GetBucketPolicy", serve: (*Gateway).getBucketPolicy},
		http.MethodPut:    {action: "s3:PutBucketPolicy", serve: (*Gateway).putBucketPolicy},
		http.MethodDelete: {action: "s3:DeleteBucketPolicy", serve: (*Gateway).deleteBucketPolicy},
	}, nil},
	{"ownershipControls", methods{
		http.MethodGet:    {action: "s3:GetBucketOwnershipControls", serve: (*Gateway).getOwnershipControls},
		http.MethodPut:    {action: "s3:PutBucketOwnershipControls", serve: (*Gateway).putOwnershipControls},
		http.MethodDelete: {action: "s3:PutBucketOwnershipControls", serve: (*Gateway).deleteOwnershipControls},
	}, nil},
	{"versioning", methods{
		http.MethodGet: {action: "s3:GetBucketVersioning", serve: (*Gateway).getBucketVersioning},
		http.MethodPut: {action: "s3:PutBucketVersioning", serve: (*Gateway).putBucketVersioning},
	}, nil},
	{"versions", methods{
		http.MethodGet: {action: "s3:ListBucketVersions", serve: (*Gateway).listObjectVersions},
	}, nil},
	{"location", methods{
		http.MethodGet: {action: "s3:GetBucketLocation", serve: (*Gateway).getBucketLocation},
	}, nil},
	// DeleteObjects: each key is also authorized as a DeleteObject (or
	// DeleteObjectVersion) of its own.
	{"delete", methods{
		http.MethodPost: {action: "s3:DeleteObject", serve: (*Gateway).deleteObjects},
	}, nil},
}

// The plain operations, of requests without a sub-resource.
var (
	serviceOps = methods{
		http.MethodGet: {action: "s3:ListAllMyBuckets", serve: (*Gateway).listBuckets},
	}
	bucketOps = methods{
		http.MethodGet:    {action: "s3:ListBucket", serve: (*Gateway).listObjects},
		http.MethodHead:   {action: "s3:ListBucket", serve: (*Gateway).headBucket},
		http.MethodPut:    {action: "s3:CreateBucket", serve: (*Gateway).createBucket},
		http.MethodDelete: {action: "s3:DeleteBucket", serve: (*Gateway).deleteBucket},
		// POST uploads through HTML forms are not implemented.
		http.MethodPost: {err: s3err.NotImplemented},
	}
	objectOps = methods{
		http.MethodGet:    {action: "s3:GetObject", versionAction: "s3:GetObjectVersion", serve: (*Gateway).getObject},
		http.MethodHead:   {action: "s3:GetObject", versionAction: "s3:GetObjectVersion", serve: (*Gateway).getObject},
		http.MethodPut:    {action: "s3:PutObject", serve: (*Gateway).putOrCopyObject},
		http.MethodDelete: {action: "s3:DeleteObject", versionAction: "s3:DeleteObjectVersion", serve: (*Gateway).deleteObject},
		http.MethodPost:   {err: s3err.NotImplemented},
	}
)

// resolve finds the operation of a request for bucket and key ("" for the
// service and for a bucket). The error is the S3 answer to a request that
// selects no operation: MethodNotAllowed, NotImplemented or
// KeyTooLongError; it changes nothing and depends on nothing stored, so it
// is given before authorization.
func resolve(r *http.Request, bucket, key string) (operation, error) {
	if bucket == "" {
		return pickMethod(serviceOps, r.Method)
	}
	if len(key) > maxKeyLen {
		return operation{}, s3err.KeyTooLongError
	}
	q := r.URL.Query()
	for _, s := range subresources {
		if !q.Has(s.name) {
			continue
		}
		if key == "" {
			return pickMethod(s.bucket, r.Method)
		}
		return pickMethod(s.object, r.Method)
	}
	if key == "" {
		return pickMethod(bucketOps, r.Method)
	}
	return pickMethod(objectOps, r.Method)
}

func pickMethod(ms methods, method string) (operation, error) {
	op, ok := ms[method]
	if !ok {
		op, ok = ms[anyMethod]
	}
	switch {
	case !ok:
		return operation{}, s3err.MethodNotAllowed
	case op.err != nil:
		return operation{}, op.err
	}
	return op, nil
}

// listObjects serves GET on a bucket: ListObjectsV2 or ListObjects.
func (g *Gateway) listObjects(ctx context.Context, w http.ResponseWriter, rq *request) error {
	q := rq.r.URL.Query()
	switch {
	case q.Get("list-type") == "2":
		return g.listObjectsV2(ctx, w, rq)
	case q.Has("list-type"):
		return s3err.InvalidArgument.WithMessage("Invalid list-type")
	}
	return g.listObjectsV1(ctx, w, rq)
}

// putOrCopyObject serves PUT on a key: CopyObject when it names a copy
// source, else PutObject. Both are s3:PutObject on the destination;
// copying also authorizes the read of the source.
func (g *Gateway) putOrCopyObject(ctx context.Context, w http.ResponseWriter, rq *request) error {
	if rq.r.Header.Get("x-amz-copy-source") != "" {
		return g.copyObject(ctx, w, rq)
	}
	return g.putObject(ctx, w, rq)
}

// uploadPartOrCopy serves PUT ?uploadId: UploadPartCopy when it names a
// copy source, else UploadPart.
func (g *Gateway) uploadPartOrCopy(ctx context.Context, w http.ResponseWriter, rq *request) error {
	if rq.r.Header.Get("x-amz-copy-source") != "" {
		return g.uploadPartCopy(ctx, w, rq)
	}
	return g.uploadPart(ctx, w, rq)
}
