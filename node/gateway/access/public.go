package access

import (
	"slices"

	"github.com/cairn-io/cairn/proto/metapb"
)

// What "public" means for Block Public Access, as S3 defines it: an ACL
// is public when it grants anything to AllUsers or AuthenticatedUsers; a
// policy is public when one of its Allow statements applies to any
// principal and no condition pins it to fixed sources or principals.

// PublicACL reports whether acl grants anything to everyone or to every
// authenticated user.
func PublicACL(acl *metapb.AccessControlList) bool {
	return slices.ContainsFunc(acl.GetGrants(), publicGrant)
}

func publicGrant(g *metapb.Grant) bool {
	return g.GetGranteeType() == GranteeGroup && (g.GetUri() == GroupAllUsers || g.GetUri() == GroupAuthenticatedUsers)
}

// WithoutPublicGrants returns acl without its public grants (what
// IgnorePublicAcls makes of it); acl itself is not changed.
func WithoutPublicGrants(acl *metapb.AccessControlList) *metapb.AccessControlList {
	if !PublicACL(acl) {
		return acl
	}
	out := &metapb.AccessControlList{OwnerId: acl.GetOwnerId()}
	for _, g := range acl.GetGrants() {
		if !publicGrant(g) {
			out.Grants = append(out.Grants, g)
		}
	}
	return out
}

// restrictingKeys are the condition keys that, tested with a positive
// operator against fixed values, make a statement non-public: they pin it
// to known sources or principals.
var restrictingKeys = map[string]bool{
	"aws:sourceip": true, "aws:sourcearn": true, "aws:sourcevpc": true, "aws:sourcevpce": true,
	"aws:sourceaccount": true, "aws:sourceowner": true, "aws:userid": true, "aws:principalarn": true,
	"aws:principalaccount": true, "aws:principalorgid": true, "s3:dataaccesspointarn": true,
	"s3:dataaccesspointaccount": true,
}

// restricting reports whether c pins a statement to fixed values.
func (c condition) restricting() bool {
	if !restrictingKeys[c.key] || negatedOps[c.op] || c.ifExists || c.op == "Null" {
		return false
	}
	for _, v := range c.values {
		if v == "*" || v == "" {
			return false
		}
	}
	for _, n := range c.nets {
		if n.Bits() == 0 {
			return false
		}
	}
	return true
}

// public reports whether st grants access to anyone.
func (st Statement) public() bool {
	if st.Effect != "Allow" {
		return false
	}
	if st.NotPrincipal == nil && (st.Principal == nil || !st.Principal.any) {
		return false
	}
	return !slices.ContainsFunc(st.Conditions, condition.restricting)
}

// IsPublic reports whether the policy grants access to anyone.
func (p *Policy) IsPublic() bool {
	return p != nil && slices.ContainsFunc(p.Statements, Statement.public)
}

// DenyOnly returns the policy's Deny statements: what a caller outside
// the owner's account is held to when RestrictPublicBuckets applies to a
// public policy.
func (p *Policy) DenyOnly() *Policy {
	out := &Policy{}
	for _, st := range p.Statements {
		if st.Effect != "Allow" {
			out.Statements = append(out.Statements, st)
		}
	}
	return out
}
