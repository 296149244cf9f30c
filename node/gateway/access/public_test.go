package access

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

func TestPolicyIsPublic(t *testing.T) {
	cases := []struct {
		name, doc string
		public    bool
	}{
		{"anyone reads", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`, true},
		{"AWS star", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`, true},
		{"named principal", `{"Statement":[{"Effect":"Allow","Principal":{"CanonicalUser":"abc"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`, false},
		{"deny anyone", `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`, false},
		{"pinned source ip", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`, false},
		{"any source ip", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}]}`, true},
		{"negated source ip", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`, true},
		{"unrelated condition", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}`, true},
		{"one public of two", `{"Statement":[{"Effect":"Allow","Principal":{"CanonicalUser":"abc"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"},{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"}]}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePolicy([]byte(tc.doc), "b")
			require.NoError(t, err)
			require.Equal(t, tc.public, p.IsPublic())
			require.False(t, p.DenyOnly().IsPublic())
		})
	}
}

func TestPublicACL(t *testing.T) {
	mine := userGrant("me", PermFullControl)
	cases := []struct {
		name   string
		grants []*metapb.Grant
		public bool
	}{
		{"private", []*metapb.Grant{mine}, false},
		{"all users read", []*metapb.Grant{mine, groupGrant(GroupAllUsers, PermRead)}, true},
		{"authenticated write", []*metapb.Grant{mine, groupGrant(GroupAuthenticatedUsers, PermWrite)}, true},
		{"log delivery", []*metapb.Grant{mine, groupGrant(GroupLogDelivery, PermWrite)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			acl := &metapb.AccessControlList{OwnerId: "me", Grants: tc.grants}
			require.Equal(t, tc.public, PublicACL(acl))
			stripped := WithoutPublicGrants(acl)
			require.False(t, PublicACL(stripped))
			require.Len(t, acl.GetGrants(), len(tc.grants), "the input is not changed")
			require.Contains(t, stripped.GetGrants(), mine, "private grants are kept")
		})
	}
}
