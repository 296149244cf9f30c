package access

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

const (
	alice = "aaaa"
	bob   = "bbbb"
	carol = "cccc"
)

// grantStrings renders grants compactly for comparison.
func grantStrings(acl *metapb.AccessControlList) []string {
	var out []string
	for _, g := range acl.GetGrants() {
		who := g.GetId()
		if g.GetGranteeType() == GranteeGroup {
			who = g.GetUri()
		}
		out = append(out, who+":"+g.GetPermission())
	}
	return out
}

func TestCannedACL(t *testing.T) {
	cases := []struct {
		name        string
		canned      string
		owner, bown string
		want        []string
	}{
		{"private", "private", alice, bob, []string{"aaaa:FULL_CONTROL"}},
		{"public-read", "public-read", alice, alice, []string{"aaaa:FULL_CONTROL", GroupAllUsers + ":READ"}},
		{"public-read-write", "public-read-write", alice, alice, []string{"aaaa:FULL_CONTROL", GroupAllUsers + ":READ", GroupAllUsers + ":WRITE"}},
		{"authenticated-read", "authenticated-read", alice, alice, []string{"aaaa:FULL_CONTROL", GroupAuthenticatedUsers + ":READ"}},
		{"bucket-owner-read", "bucket-owner-read", alice, bob, []string{"aaaa:FULL_CONTROL", "bbbb:READ"}},
		{"bucket-owner-read by the bucket owner", "bucket-owner-read", bob, bob, []string{"bbbb:FULL_CONTROL"}},
		{"bucket-owner-full-control", "bucket-owner-full-control", alice, bob, []string{"aaaa:FULL_CONTROL", "bbbb:FULL_CONTROL"}},
		{"log-delivery-write", "log-delivery-write", alice, alice, []string{"aaaa:FULL_CONTROL", GroupLogDelivery + ":WRITE", GroupLogDelivery + ":READ_ACP"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			acl, err := CannedACL(tc.canned, tc.owner, tc.bown)
			require.NoError(t, err)
			require.Equal(t, tc.owner, acl.OwnerId)
			require.Equal(t, tc.want, grantStrings(acl))
		})
	}
	_, err := CannedACL("public", alice, alice)
	require.ErrorIs(t, err, ErrInvalidCannedACL)
}

func TestFromHeaders(t *testing.T) {
	cases := []struct {
		name    string
		headers map[string]string
		want    []string
		err     error
	}{
		{"none", nil, nil, nil},
		{"canned", map[string]string{"x-amz-acl": "public-read"}, []string{"aaaa:FULL_CONTROL", GroupAllUsers + ":READ"}, nil},
		{"grant read to a user and a group", map[string]string{"x-amz-grant-read": `id="bbbb", uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers"`},
			[]string{"bbbb:READ", GroupAuthenticatedUsers + ":READ"}, nil},
		{"every grant header", map[string]string{
			"x-amz-grant-full-control": `id="aaaa"`, "x-amz-grant-write": `id=bbbb`, "x-amz-grant-read-acp": `id="cccc"`, "x-amz-grant-write-acp": `ID="cccc"`,
		}, []string{"aaaa:FULL_CONTROL", "bbbb:WRITE", "cccc:READ_ACP", "cccc:WRITE_ACP"}, nil},
		{"canned and grants", map[string]string{"x-amz-acl": "private", "x-amz-grant-read": `id="bbbb"`}, nil, ErrCannedAndGrants},
		{"unknown canned", map[string]string{"x-amz-acl": "everyone"}, nil, ErrInvalidCannedACL},
		{"email grantee", map[string]string{"x-amz-grant-read": `emailAddress="bob@example.com"`}, nil, ErrEmailGrant},
		{"unknown group", map[string]string{"x-amz-grant-read": `uri="http://example.com/everyone"`}, nil, ErrInvalidGrant},
		{"unknown grantee type", map[string]string{"x-amz-grant-read": `name="bob"`}, nil, ErrInvalidGrant},
		{"no equals sign", map[string]string{"x-amz-grant-read": `bbbb`}, nil, ErrInvalidGrant},
		{"empty id", map[string]string{"x-amz-grant-read": `id=""`}, nil, ErrInvalidGrant},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tc.headers {
				h.Set(k, v)
			}
			require.Equal(t, len(tc.headers) > 0, HasACLHeaders(h))
			acl, err := FromHeaders(h, alice, alice)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			if tc.want == nil {
				require.Nil(t, acl)
				return
			}
			require.Equal(t, tc.want, grantStrings(acl))
		})
	}
}

func TestValidateGrant(t *testing.T) {
	cases := []struct {
		name string
		g    *metapb.Grant
		err  error
	}{
		{"user", &metapb.Grant{GranteeType: GranteeCanonicalUser, Id: bob, Permission: PermRead}, nil},
		{"group", &metapb.Grant{GranteeType: GranteeGroup, Uri: GroupAllUsers, Permission: PermWriteACP}, nil},
		{"bad permission", &metapb.Grant{GranteeType: GranteeCanonicalUser, Id: bob, Permission: "ALL"}, ErrInvalidGrant},
		{"user without ID", &metapb.Grant{GranteeType: GranteeCanonicalUser, Permission: PermRead}, ErrInvalidGrant},
		{"bad group", &metapb.Grant{GranteeType: GranteeGroup, Uri: "x", Permission: PermRead}, ErrInvalidGrant},
		{"email", &metapb.Grant{GranteeType: GranteeEmail, Email: "a@b", Permission: PermRead}, ErrEmailGrant},
		{"bad type", &metapb.Grant{GranteeType: "Robot", Permission: PermRead}, ErrInvalidGrant},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateGrant(tc.g)
			if tc.err == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.err)
		})
	}
}

func TestEffective(t *testing.T) {
	require.Equal(t, []string{"aaaa:FULL_CONTROL"}, grantStrings(Effective(nil, alice)), "no ACL means private")
	set := &metapb.AccessControlList{OwnerId: alice, Grants: []*metapb.Grant{userGrant(bob, PermRead)}}
	require.Equal(t, []string{"bbbb:READ"}, grantStrings(Effective(set, alice)))
}

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"s3:get*", "s3:getobject", true},
		{"s3:get*", "s3:putobject", false},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y", true},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::b", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*.txt", "dir/file.txt", true},
		{"*.txt", "dir/file.txt.gz", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, globMatch(tc.pattern, tc.s), "%q ~ %q", tc.pattern, tc.s)
	}
}
