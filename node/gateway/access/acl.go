package access

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/cairn-io/cairn/proto/metapb"
)

// ACL permissions.
const (
	PermFullControl = "FULL_CONTROL"
	PermRead        = "READ"
	PermWrite       = "WRITE"
	PermReadACP     = "READ_ACP"
	PermWriteACP    = "WRITE_ACP"
)

// Grantee types.
const (
	GranteeCanonicalUser = "CanonicalUser"
	GranteeGroup         = "Group"
	GranteeEmail         = "AmazonCustomerByEmail"
)

// Predefined groups.
const (
	GroupAllUsers           = "http://acs.amazonaws.com/groups/global/AllUsers"
	GroupAuthenticatedUsers = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
	GroupLogDelivery        = "http://acs.amazonaws.com/groups/s3/LogDelivery"
)

// CannedBucketOwnerFullControl is the one canned ACL a bucket with
// BucketOwnerEnforced ownership still accepts.
const CannedBucketOwnerFullControl = "bucket-owner-full-control"

// Object ownership settings (PutBucketOwnershipControls).
const (
	OwnershipBucketOwnerEnforced  = "BucketOwnerEnforced"
	OwnershipBucketOwnerPreferred = "BucketOwnerPreferred"
	OwnershipObjectWriter         = "ObjectWriter"
)

// Sentinels of ACL parsing; the gateway maps each to its S3 error.
var (
	// ErrInvalidCannedACL: x-amz-acl names no canned ACL (InvalidArgument).
	ErrInvalidCannedACL = errors.New("access: invalid canned ACL")
	// ErrCannedAndGrants: both x-amz-acl and x-amz-grant-* (InvalidRequest).
	ErrCannedAndGrants = errors.New("access: canned ACL and grant headers together")
	// ErrInvalidGrant: a grant header or ACL grant does not parse or names
	// an unknown group or permission (InvalidArgument / MalformedACLError).
	ErrInvalidGrant = errors.New("access: invalid grant")
	// ErrEmailGrant: grants by e-mail address cannot be resolved here
	// (UnresolvableGrantByEmailAddress).
	ErrEmailGrant = errors.New("access: grant by e-mail address")
)

var validPermissions = map[string]bool{PermFullControl: true, PermRead: true, PermWrite: true, PermReadACP: true, PermWriteACP: true}

var validGroups = map[string]bool{GroupAllUsers: true, GroupAuthenticatedUsers: true, GroupLogDelivery: true}

// ValidOwnership reports whether s is an ObjectOwnership value.
func ValidOwnership(s string) bool {
	switch s {
	case OwnershipBucketOwnerEnforced, OwnershipBucketOwnerPreferred, OwnershipObjectWriter:
		return true
	}
	return false
}

func userGrant(id, perm string) *metapb.Grant {
	return &metapb.Grant{GranteeType: GranteeCanonicalUser, Id: id, Permission: perm}
}

func groupGrant(uri, perm string) *metapb.Grant {
	return &metapb.Grant{GranteeType: GranteeGroup, Uri: uri, Permission: perm}
}

// CannedACL expands a canned ACL for a resource owned by owner in a bucket
// owned by bucketOwner (the same as owner for a bucket's own ACL).
func CannedACL(name, owner, bucketOwner string) (*metapb.AccessControlList, error) {
	acl := &metapb.AccessControlList{OwnerId: owner, Grants: []*metapb.Grant{userGrant(owner, PermFullControl)}}
	switch name {
	case "private":
	case "public-read":
		acl.Grants = append(acl.Grants, groupGrant(GroupAllUsers, PermRead))
	case "public-read-write":
		acl.Grants = append(acl.Grants, groupGrant(GroupAllUsers, PermRead), groupGrant(GroupAllUsers, PermWrite))
	case "authenticated-read":
		acl.Grants = append(acl.Grants, groupGrant(GroupAuthenticatedUsers, PermRead))
	case "aws-exec-read":
		// Grants read to an AWS service that does not exist here.
	case "log-delivery-write":
		acl.Grants = append(acl.Grants, groupGrant(GroupLogDelivery, PermWrite), groupGrant(GroupLogDelivery, PermReadACP))
	case "bucket-owner-read":
		if bucketOwner != owner {
			acl.Grants = append(acl.Grants, userGrant(bucketOwner, PermRead))
		}
	case CannedBucketOwnerFullControl:
		if bucketOwner != owner {
			acl.Grants = append(acl.Grants, userGrant(bucketOwner, PermFullControl))
		}
	default:
		return nil, fmt.Errorf("%w: %q", ErrInvalidCannedACL, name)
	}
	return acl, nil
}

// grantHeaders maps the x-amz-grant-* headers to their permission.
var grantHeaders = []struct{ header, perm string }{
	{"X-Amz-Grant-Full-Control", PermFullControl},
	{"X-Amz-Grant-Read", PermRead},
	{"X-Amz-Grant-Write", PermWrite},
	{"X-Amz-Grant-Read-Acp", PermReadACP},
	{"X-Amz-Grant-Write-Acp", PermWriteACP},
}

// HasACLHeaders reports whether h carries x-amz-acl or any x-amz-grant-*.
func HasACLHeaders(h http.Header) bool {
	if h.Get("X-Amz-Acl") != "" {
		return true
	}
	for _, g := range grantHeaders {
		if h.Get(g.header) != "" {
			return true
		}
	}
	return false
}

// FromHeaders builds the ACL a request's x-amz-acl or x-amz-grant-*
// headers ask for, for a resource owned by owner in a bucket owned by
// bucketOwner. It returns nil when the request carries neither. Explicit
// grants replace the default: like S3, the owner keeps only what the grant
// headers give it (it can always read and write the ACL anyway).
func FromHeaders(h http.Header, owner, bucketOwner string) (*metapb.AccessControlList, error) {
	canned := strings.TrimSpace(h.Get("X-Amz-Acl"))
	var grants []*metapb.Grant
	for _, gh := range grantHeaders {
		v := h.Get(gh.header)
		if v == "" {
			continue
		}
		gs, err := parseGrantHeader(v, gh.perm)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", gh.header, err)
		}
		grants = append(grants, gs...)
	}
	switch {
	case canned != "" && len(grants) > 0:
		return nil, ErrCannedAndGrants
	case canned != "":
		return CannedACL(canned, owner, bucketOwner)
	case len(grants) > 0:
		return &metapb.AccessControlList{OwnerId: owner, Grants: grants}, nil
	}
	return nil, nil
}

// parseGrantHeader parses `id="…", uri="…", emailAddress="…"` lists.
func parseGrantHeader(v, perm string) ([]*metapb.Grant, error) {
	var out []*metapb.Grant
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		typ, val, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrInvalidGrant, item)
		}
		val = strings.Trim(strings.TrimSpace(val), `"`)
		g := &metapb.Grant{Permission: perm}
		switch strings.ToLower(strings.TrimSpace(typ)) {
		case "id":
			g.GranteeType, g.Id = GranteeCanonicalUser, val
		case "uri":
			g.GranteeType, g.Uri = GranteeGroup, val
		case "emailaddress":
			return nil, fmt.Errorf("%w: %q", ErrEmailGrant, val)
		default:
			return nil, fmt.Errorf("%w: unknown grantee type %q", ErrInvalidGrant, typ)
		}
		if err := ValidateGrant(g); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// ValidateGrant checks one grant of an ACL document or header.
func ValidateGrant(g *metapb.Grant) error {
	if !validPermissions[g.GetPermission()] {
		return fmt.Errorf("%w: permission %q", ErrInvalidGrant, g.GetPermission())
	}
	switch g.GetGranteeType() {
	case GranteeCanonicalUser:
		if g.GetId() == "" {
			return fmt.Errorf("%w: canonical user grant without ID", ErrInvalidGrant)
		}
	case GranteeGroup:
		if !validGroups[g.GetUri()] {
			return fmt.Errorf("%w: unknown group %q", ErrInvalidGrant, g.GetUri())
		}
	case GranteeEmail:
		return fmt.Errorf("%w: %q", ErrEmailGrant, g.GetEmail())
	default:
		return fmt.Errorf("%w: grantee type %q", ErrInvalidGrant, g.GetGranteeType())
	}
	return nil
}

// Effective returns the ACL in force for a resource: acl itself, or, when
// none was ever set, the private default (owner FULL_CONTROL).
func Effective(acl *metapb.AccessControlList, owner string) *metapb.AccessControlList {
	if acl != nil && (len(acl.Grants) > 0 || acl.OwnerId != "") {
		out := &metapb.AccessControlList{OwnerId: owner, Grants: acl.Grants}
		return out
	}
	return &metapb.AccessControlList{OwnerId: owner, Grants: []*metapb.Grant{userGrant(owner, PermFullControl)}}
}

// grants reports whether acl gives c the permission perm (or
// FULL_CONTROL).
func grants(acl *metapb.AccessControlList, c Caller, perm string) bool {
	for _, g := range acl.GetGrants() {
		if g.GetPermission() != perm && g.GetPermission() != PermFullControl {
			continue
		}
		switch g.GetGranteeType() {
		case GranteeCanonicalUser:
			if !c.Anonymous && c.ID != "" && g.GetId() == c.ID {
				return true
			}
		case GranteeGroup:
			switch g.GetUri() {
			case GroupAllUsers:
				return true
			case GroupAuthenticatedUsers:
				if !c.Anonymous {
					return true
				}
			}
		}
	}
	return false
}
