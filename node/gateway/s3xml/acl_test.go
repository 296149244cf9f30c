package s3xml

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAccessControlPolicyRoundTrip(t *testing.T) {
	in := AccessControlPolicy{
		Owner: &Owner{ID: "abc", DisplayName: "alice"},
		Grants: []Grant{
			{Grantee: func() Grantee { g := NewGrantee("CanonicalUser"); g.ID = "abc"; return g }(), Permission: "FULL_CONTROL"},
			{Grantee: func() Grantee {
				g := NewGrantee("Group")
				g.URI = "http://acs.amazonaws.com/groups/global/AllUsers"
				return g
			}(), Permission: "READ"},
		},
	}
	var buf bytes.Buffer
	require.NoError(t, Encode(&buf, &in))
	out := buf.String()
	require.Contains(t, out, `<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>abc</ID></Grantee>`)
	require.Contains(t, out, `<AccessControlList><Grant>`)

	var back AccessControlPolicyRequest
	require.NoError(t, Decode(strings.NewReader(out), &back))
	require.Len(t, back.Grants, 2)
	require.Equal(t, "CanonicalUser", back.Grants[0].Grantee.GranteeType())
	require.Equal(t, "abc", back.Grants[0].Grantee.ID)
	require.Equal(t, "Group", back.Grants[1].Grantee.GranteeType())
	require.Equal(t, "READ", back.Grants[1].Permission)
	require.Equal(t, "alice", back.Owner.DisplayName)
}

func TestOwnershipControlsDecode(t *testing.T) {
	var oc OwnershipControlsRequest
	require.NoError(t, Decode(strings.NewReader(`<OwnershipControls xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule></OwnershipControls>`), &oc))
	require.Equal(t, []OwnershipControlsRule{{ObjectOwnership: "BucketOwnerEnforced"}}, oc.Rules)
}
