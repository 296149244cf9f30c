package s3err

import "net/http"

// Errors of access control: ACLs, bucket policies and ownership controls.
var (
	AccessControlListNotSupported       = newErr("AccessControlListNotSupported", http.StatusBadRequest, "The bucket does not allow ACLs")
	InvalidBucketAclWithObjectOwnership = newErr("InvalidBucketAclWithObjectOwnership", http.StatusBadRequest, "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting")
	MalformedACLError                   = newErr("MalformedACLError", http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema")
	MalformedPolicy                     = newErr("MalformedPolicy", http.StatusBadRequest, "Policies must be valid JSON and the first byte must be '{'")
	NoSuchBucketPolicy                  = newErr("NoSuchBucketPolicy", http.StatusNotFound, "The bucket policy does not exist")
	OwnershipControlsNotFoundError      = newErr("OwnershipControlsNotFoundError", http.StatusNotFound, "The bucket ownership controls were not found")
	UnresolvableGrantByEmailAddress     = newErr("UnresolvableGrantByEmailAddress", http.StatusBadRequest, "The e-mail address you provided does not match any account on record.")
)
