package access

import (
	"strings"

	"github.com/cairn-io/cairn/proto/metapb"
)

// Caller is who makes a request.
type Caller struct {
	// ID is the canonical user ID; empty when anonymous.
	ID string
	// AccessKey signed the request; empty when anonymous.
	AccessKey string
	// Name is the display name (aws:username).
	Name      string
	Root      bool
	Anonymous bool
}

// Object is what evaluation needs of an existing object version.
type Object struct {
	Owner string
	ACL   *metapb.AccessControlList
}

// Request is one access question: may Caller perform Action on Bucket (and
// Key)?
type Request struct {
	// Action is the IAM action name, e.g. "s3:GetObject".
	Action string
	Bucket string
	// Key is empty for bucket-level actions.
	Key    string
	Caller Caller

	BucketOwner string
	BucketACL   *metapb.AccessControlList
	// Ownership is the bucket's ObjectOwnership; empty means ObjectWriter.
	Ownership string
	// Policy is the bucket policy; nil when there is none.
	Policy *Policy
	// Object is the object the action reads or changes; nil when the action
	// is on the bucket, creates the object, or the object does not exist.
	Object *Object
	// Context holds condition key values, keys in lower case.
	Context Context
}

// Decision is the outcome of Evaluate.
type Decision int

// Decisions.
const (
	// ImplicitDeny: nothing allows the request.
	ImplicitDeny Decision = iota
	// Allow: the request may proceed.
	Allow
	// ExplicitDeny: a policy statement denies it.
	ExplicitDeny
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	}
	return "ImplicitDeny"
}

// aclRule says which ACL decides an action and with which permission.
type aclRule struct {
	onObject bool // the object's ACL, else the bucket's
	perm     string
}

// aclRules maps actions to ACL permissions as S3 documents them. Actions
// not listed here are granted by ownership or policy only.
var aclRules = map[string]aclRule{
	"s3:ListBucket":                 {false, PermRead},
	"s3:ListBucketVersions":         {false, PermRead},
	"s3:ListBucketMultipartUploads": {false, PermRead},
	"s3:PutObject":                  {false, PermWrite},
	"s3:DeleteObject":               {false, PermWrite},
	"s3:DeleteObjectVersion":        {false, PermWrite},
	"s3:AbortMultipartUpload":       {false, PermWrite},
	"s3:ListMultipartUploadParts":   {false, PermWrite},
	"s3:GetBucketAcl":               {false, PermReadACP},
	"s3:PutBucketAcl":               {false, PermWriteACP},
	"s3:GetObject":                  {true, PermRead},
	"s3:GetObjectVersion":           {true, PermRead},
	"s3:GetObjectAcl":               {true, PermReadACP},
	"s3:GetObjectVersionAcl":        {true, PermReadACP},
	"s3:PutObjectAcl":               {true, PermWriteACP},
	"s3:PutObjectVersionAcl":        {true, PermWriteACP},
}

// bucketScoped are actions with a key that are nevertheless decided on the
// bucket (they create or remove objects rather than act on one). Bypassing
// GOVERNANCE retention is the bucket owner's privilege (or a policy's
// grant), never the object owner's: the lock guards the bucket owner's
// retention rules.
var bucketScoped = map[string]bool{
	"s3:PutObject":                 true,
	"s3:DeleteObject":              true,
	"s3:DeleteObjectVersion":       true,
	"s3:AbortMultipartUpload":      true,
	"s3:ListMultipartUploadParts":  true,
	"s3:BypassGovernanceRetention": true,
}

// policyManagement are the actions the bucket owner keeps despite a Deny.
var policyManagement = map[string]bool{
	"s3:GetBucketPolicy":    true,
	"s3:PutBucketPolicy":    true,
	"s3:DeleteBucketPolicy": true,
}

// Evaluate decides req (see the package comment for the order).
func Evaluate(req Request) Decision {
	c := req.Caller
	if c.Root && !c.Anonymous {
		return Allow
	}
	isBucketOwner := !c.Anonymous && c.ID != "" && c.ID == req.BucketOwner
	if req.Policy != nil {
		switch req.Policy.evaluate(req) {
		case ExplicitDeny:
			if !(isBucketOwner && policyManagement[req.Action]) {
				return ExplicitDeny
			}
		case Allow:
			return Allow
		}
	}
	enforced := req.Ownership == OwnershipBucketOwnerEnforced
	objectScoped := req.Key != "" && !bucketScoped[req.Action]
	if isBucketOwner && (!objectScoped || enforced || req.Object == nil) {
		return Allow
	}
	if objectScoped && req.Object != nil && !c.Anonymous && c.ID != "" && c.ID == req.Object.Owner {
		return Allow
	}
	if enforced {
		return ImplicitDeny
	}
	rule, ok := aclRules[req.Action]
	if !ok {
		return ImplicitDeny
	}
	if rule.onObject {
		if req.Object == nil || !objectScoped {
			return ImplicitDeny
		}
		if grants(Effective(req.Object.ACL, req.Object.Owner), c, rule.perm) {
			return Allow
		}
		return ImplicitDeny
	}
	if grants(Effective(req.BucketACL, req.BucketOwner), c, rule.perm) {
		return Allow
	}
	return ImplicitDeny
}

// ResourceARN is the ARN a policy's Resource is matched against.
func ResourceARN(bucket, key string) string {
	if key == "" {
		return "arn:aws:s3:::" + bucket
	}
	return "arn:aws:s3:::" + bucket + "/" + key
}

// Context holds the values of condition keys for one request. Keys are
// case-insensitive, stored in lower case.
type Context map[string][]string

// Set records the value(s) of key.
func (c Context) Set(key string, values ...string) {
	c[strings.ToLower(key)] = values
}

// ObjectScoped reports whether action on key is decided on the object (its
// owner and ACL) rather than on the bucket.
func ObjectScoped(action, key string) bool {
	return key != "" && !bucketScoped[action]
}
