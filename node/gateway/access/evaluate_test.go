package access

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-io/cairn/proto/metapb"
)

func mustPolicy(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := ParsePolicy([]byte(doc), "pics")
	require.NoError(t, err)
	return p
}

func TestEvaluate(t *testing.T) {
	var (
		aliceC = Caller{ID: alice, AccessKey: "AKALICE", Name: "alice"}
		bobC   = Caller{ID: bob, AccessKey: "AKBOB", Name: "bob"}
		carolC = Caller{ID: carol, AccessKey: "AKCAROL", Name: "carol"}
		anon   = Caller{Anonymous: true}
		root   = Caller{ID: "root", AccessKey: "AKROOT", Name: "root", Root: true}
	)
	publicRead, _ := CannedACL("public-read", alice, alice)
	authRead, _ := CannedACL("authenticated-read", alice, alice)
	bobReads := &metapb.AccessControlList{OwnerId: alice, Grants: []*metapb.Grant{userGrant(alice, PermFullControl), userGrant(bob, PermRead)}}
	bobWrites := &metapb.AccessControlList{OwnerId: alice, Grants: []*metapb.Grant{userGrant(alice, PermFullControl), userGrant(bob, PermWrite)}}
	bobACP := &metapb.AccessControlList{OwnerId: alice, Grants: []*metapb.Grant{userGrant(bob, PermReadACP), userGrant(bob, PermWriteACP)}}
	bobFull := &metapb.AccessControlList{OwnerId: alice, Grants: []*metapb.Grant{userGrant(bob, PermFullControl)}}

	allowBobGet := mustPolicy(t, `{"Statement":[{"Effect":"Allow","Principal":{"AWS":["`+bob+`"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pics/*"}]}`)
	allowBobByARN := mustPolicy(t, `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/bob"},"Action":["s3:Get*","s3:ListBucket"],"Resource":["arn:aws:s3:::pics","arn:aws:s3:::pics/*"]}]}`)
	allowBobByKey := mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"AWS":"AKBOB"},"Action":"s3:*","Resource":"*"}}`)
	allowBobRoot := mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+bob+`:root"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::pics/*"}}`)
	allowCanonical := mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":{"CanonicalUser":"`+bob+`"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pics/*"}}`)
	publicGet := mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pics/public/*"}}`)
	denyAllButAlice := mustPolicy(t, `{"Statement":[
		{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::pics","arn:aws:s3:::pics/*"]},
		{"Effect":"Deny","NotPrincipal":{"AWS":"`+alice+`"},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::pics/*"}]}`)
	denyBobSecret := mustPolicy(t, `{"Statement":[{"Effect":"Deny","Principal":{"AWS":"`+bob+`"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pics/secret/*"}]}`)
	denyEveryonePolicy := mustPolicy(t, `{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::pics","arn:aws:s3:::pics/*"]}}`)
	denyNotAction := mustPolicy(t, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Principal":"*","NotAction":"s3:GetObject","Resource":"*"}]}`)
	notResource := mustPolicy(t, `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","NotResource":"arn:aws:s3:::pics/private/*"}}`)
	tlsOnly := mustPolicy(t, `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pics/*"},
		{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::pics/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`)

	cases := []struct {
		name      string
		req       Request
		want      Decision
		wantAllow bool
	}{
		{name: "root may do anything", req: Request{Action: "s3:GetObject", Key: "k", Caller: root, Object: &Object{Owner: alice}}, want: Allow},
		{name: "root beats a deny", req: Request{Action: "s3:GetObject", Key: "k", Caller: root, Policy: denyEveryonePolicy}, want: Allow},
		{name: "owner reads own object", req: Request{Action: "s3:GetObject", Key: "k", Caller: aliceC, Object: &Object{Owner: alice}}, want: Allow},
		{name: "bucket owner lists", req: Request{Action: "s3:ListBucket", Caller: aliceC}, want: Allow},
		{name: "bucket owner sets versioning", req: Request{Action: "s3:PutBucketVersioning", Caller: aliceC}, want: Allow},
		{name: "other user refused by default", req: Request{Action: "s3:GetObject", Key: "k", Caller: bobC, Object: &Object{Owner: alice}}, want: ImplicitDeny},
		{name: "other user cannot list", req: Request{Action: "s3:ListBucket", Caller: bobC}, want: ImplicitDeny},
		{name: "other user cannot put", req: Request{Action: "s3:PutObject", Key: "k", Caller: bobC}, want: ImplicitDeny},
		{name: "anonymous refused by default", req: Request{Action: "s3:GetObject", Key: "k", Caller: anon, Object: &Object{Owner: alice}}, want: ImplicitDeny},
		{name: "missing object: bucket owner may look (404)", req: Request{Action: "s3:GetObject", Key: "k", Caller: aliceC}, want: Allow},

		// ACLs.
		{name: "public-read object to anonymous", req: Request{Action: "s3:GetObject", Key: "k", Caller: anon, Object: &Object{Owner: alice, ACL: publicRead}}, want: Allow},
		{name: "public-read object does not allow its ACL", req: Request{Action: "s3:GetObjectAcl", Key: "k", Caller: anon, Object: &Object{Owner: alice, ACL: publicRead}}, want: ImplicitDeny},
		{name: "public-read object does not allow delete", req: Request{Action: "s3:DeleteObject", Key: "k", Caller: bobC, Object: &Object{Owner: alice, ACL: publicRead}}, want: ImplicitDeny},
		{name: "authenticated-read to a user", req: Request{Action: "s3:GetObject", Key: "k", Caller: bobC, Object: &Object{Owner: alice, ACL: authRead}}, want: Allow},
		{name: "authenticated-read not to anonymous", req: Request{Action: "s3:GetObject", Key: "k", Caller: anon, Object: &Object{Owner: alice, ACL: authRead}}, want: ImplicitDeny},
		{name: "READ grant to one user", req: Request{Action: "s3:GetObjectVersion", Key: "k", Caller: bobC, Object: &Object{Owner: alice, ACL: bobReads}}, want: Allow},
		{name: "READ grant not to another", req: Request{Action: "s3:GetObject", Key: "k", Caller: carolC, Object: &Object{Owner: alice, ACL: bobReads}}, want: ImplicitDeny},
		{name: "READ_ACP grant", req: Request{Action: "s3:GetObjectAcl", Key: "k", Caller: bobC, Object: &Object{Owner: alice, ACL: bobACP}}, want: Allow},
		{name: "WRITE_ACP grant", req: Request{Action: "s3:PutObjectAcl", Key: "k", Caller: bobC, Object: &Object{Owner: alice, ACL: bobACP}}, want: Allow},
		{name: "READ_ACP does not read data", req: Request{Action: "s3:GetObject", Key: "k", Caller: bobC, Object: &Object{Owner: alice, ACL: bobACP}}, want: ImplicitDeny},
		{name: "FULL_CONTROL covers everything mapped", req: Request{Action: "s3:PutObjectAcl", Key: "k", Caller: bobC, Object: &Object{Owner: alice, ACL: bobFull}}, want: Allow},
		{name: "FULL_CONTROL does not cover tagging", req: Request{Action: "s3:PutObjectTagging", Key: "k", Caller: bobC, Object: &Object{Owner: alice, ACL: bobFull}}, want: ImplicitDeny},
		{name: "bucket READ lets list", req: Request{Action: "s3:ListBucket", Caller: bobC, BucketOwner: alice, BucketACL: bobReads}, want: Allow},
		{name: "bucket READ does not read objects", req: Request{Action: "s3:GetObject", Key: "k", Caller: bobC, BucketOwner: alice, BucketACL: bobReads, Object: &Object{Owner: alice}}, want: ImplicitDeny},
		{name: "bucket WRITE lets put", req: Request{Action: "s3:PutObject", Key: "k", Caller: bobC, BucketOwner: alice, BucketACL: bobWrites}, want: Allow},
		{name: "bucket WRITE lets delete", req: Request{Action: "s3:DeleteObject", Key: "k", Caller: bobC, BucketOwner: alice, BucketACL: bobWrites}, want: Allow},
		{name: "bucket owner may bypass governance on another's object", req: Request{Action: "s3:BypassGovernanceRetention", Key: "k", Caller: aliceC, BucketOwner: alice, Object: &Object{Owner: bob}}, want: Allow},
		{name: "object owner may not bypass governance", req: Request{Action: "s3:BypassGovernanceRetention", Key: "k", Caller: bobC, BucketOwner: alice, BucketACL: bobFull, Object: &Object{Owner: bob}}, want: ImplicitDeny},
		{name: "bucket FULL_CONTROL does not bypass governance", req: Request{Action: "s3:BypassGovernanceRetention", Key: "k", Caller: bobC, BucketOwner: alice, BucketACL: bobFull}, want: ImplicitDeny},
		{name: "a policy grants the bypass", req: Request{Action: "s3:BypassGovernanceRetention", Key: "k", Caller: bobC, BucketOwner: alice, Policy: allowBobByKey}, want: Allow},
		{name: "bucket owner deletes another's object", req: Request{Action: "s3:DeleteObject", Key: "k", Caller: aliceC, BucketOwner: alice, Object: &Object{Owner: bob}}, want: Allow},
		{name: "bucket owner cannot read another's object", req: Request{Action: "s3:GetObject", Key: "k", Caller: aliceC, BucketOwner: alice, Object: &Object{Owner: bob}}, want: ImplicitDeny},
		{name: "object writer reads own object in another's bucket", req: Request{Action: "s3:GetObject", Key: "k", Caller: bobC, BucketOwner: alice, Object: &Object{Owner: bob}}, want: Allow},

		// Ownership enforced: ACLs off, bucket owner owns everything.
		{name: "enforced: ACL grant ignored", req: Request{Action: "s3:GetObject", Key: "k", Caller: anon, BucketOwner: alice, Ownership: OwnershipBucketOwnerEnforced, Object: &Object{Owner: alice, ACL: publicRead}}, want: ImplicitDeny},
		{name: "enforced: bucket ACL ignored", req: Request{Action: "s3:PutObject", Key: "k", Caller: bobC, BucketOwner: alice, Ownership: OwnershipBucketOwnerEnforced, BucketACL: bobWrites}, want: ImplicitDeny},
		{name: "enforced: bucket owner reads writer's object", req: Request{Action: "s3:GetObject", Key: "k", Caller: aliceC, BucketOwner: alice, Ownership: OwnershipBucketOwnerEnforced, Object: &Object{Owner: bob}}, want: Allow},
		{name: "enforced: policy still allows", req: Request{Action: "s3:GetObject", Bucket: "pics", Key: "k", Caller: bobC, BucketOwner: alice, Ownership: OwnershipBucketOwnerEnforced, Policy: allowBobGet, Object: &Object{Owner: alice}}, want: Allow},

		// Policies.
		{name: "policy allows by canonical ID", req: Request{Action: "s3:GetObject", Bucket: "pics", Key: "a/b", Caller: bobC, BucketOwner: alice, Policy: allowBobGet, Object: &Object{Owner: alice}}, want: Allow},
		{name: "policy allows only that action", req: Request{Action: "s3:PutObject", Bucket: "pics", Key: "a/b", Caller: bobC, BucketOwner: alice, Policy: allowBobGet}, want: ImplicitDeny},
		{name: "policy allows only that principal", req: Request{Action: "s3:GetObject", Bucket: "pics", Key: "a/b", Caller: carolC, BucketOwner: alice, Policy: allowBobGet, Object: &Object{Owner: alice}}, want: ImplicitDeny},
		{name: "policy object resource does not cover the bucket", req: Request{Action: "s3:GetObject", Bucket: "pics", Caller: bobC, BucketOwner: alice, Policy: allowBobGet}, want: ImplicitDeny},
		{name: "policy by user ARN and action wildcard", req: Request{Action: "s3:GetObjectAcl", Bucket: "pics", Key: "x", Caller: bobC, BucketOwner: alice, Policy: allowBobByARN, Object: &Object{Owner: alice}}, want: Allow},
		{name: "policy by user ARN lists", req: Request{Action: "s3:ListBucket", Bucket: "pics", Caller: bobC, BucketOwner: alice, Policy: allowBobByARN}, want: Allow},
		{name: "policy by user ARN other name", req: Request{Action: "s3:ListBucket", Bucket: "pics", Caller: carolC, BucketOwner: alice, Policy: allowBobByARN}, want: ImplicitDeny},
		{name: "policy by access key", req: Request{Action: "s3:DeleteBucket", Bucket: "pics", Caller: bobC, BucketOwner: alice, Policy: allowBobByKey}, want: Allow},
		{name: "policy by account root ARN", req: Request{Action: "s3:PutObject", Bucket: "pics", Key: "x", Caller: bobC, BucketOwner: alice, Policy: allowBobRoot}, want: Allow},
		{name: "policy by CanonicalUser", req: Request{Action: "s3:GetObject", Bucket: "pics", Key: "x", Caller: bobC, BucketOwner: alice, Policy: allowCanonical, Object: &Object{Owner: alice}}, want: Allow},
		{name: "policy principal * includes anonymous", req: Request{Action: "s3:GetObject", Bucket: "pics", Key: "public/x", Caller: anon, BucketOwner: alice, Policy: publicGet, Object: &Object{Owner: alice}}, want: Allow},
		{name: "policy resource wildcard is a prefix", req: Request{Action: "s3:GetObject", Bucket: "pics", Key: "private/x", Caller: anon, BucketOwner: alice, Policy: publicGet, Object: &Object{Owner: alice}}, want: ImplicitDeny},
		{name: "policy specific principal excludes anonymous", req: Request{Action: "s3:GetObject", Bucket: "pics", Key: "x", Caller: anon, BucketOwner: alice, Policy: allowBobGet, Object: &Object{Owner: alice}}, want: ImplicitDeny},
		{name: "deny wins over allow in the same policy", req: Request{Action: "s3:DeleteObject", Bucket: "pics", Key: "x", Caller: bobC, BucketOwner: alice, Policy: denyAllButAlice}, want: ExplicitDeny},
		{name: "NotPrincipal exempts", req: Request{Action: "s3:DeleteObject", Bucket: "pics", Key: "x", Caller: aliceC, BucketOwner: alice, Policy: denyAllButAlice}, want: Allow},
		{name: "deny wins over ACL", req: Request{Action: "s3:GetObject", Bucket: "pics", Key: "secret/x", Caller: bobC, BucketOwner: alice, Policy: denyBobSecret, Object: &Object{Owner: alice, ACL: bobReads}}, want: ExplicitDeny},
		{name: "deny wins over object ownership", req: Request{Action: "s3:GetObject", Bucket: "pics", Key: "secret/x", Caller: bobC, BucketOwner: alice, Policy: denyBobSecret, Object: &Object{Owner: bob}}, want: ExplicitDeny},
		{name: "deny elsewhere leaves the ACL", req: Request{Action: "s3:GetObject", Bucket: "pics", Key: "open/x", Caller: bobC, BucketOwner: alice, Policy: denyBobSecret, Object: &Object{Owner: alice, ACL: bobReads}}, want: Allow},
		{name: "deny applies to the bucket owner", req: Request{Action: "s3:ListBucket", Bucket: "pics", Caller: aliceC, BucketOwner: alice, Policy: denyEveryonePolicy}, want: ExplicitDeny},
		{name: "bucket owner keeps policy management", req: Request{Action: "s3:DeleteBucketPolicy", Bucket: "pics", Caller: aliceC, BucketOwner: alice, Policy: denyEveryonePolicy}, want: Allow},
		{name: "others do not keep policy management", req: Request{Action: "s3:DeleteBucketPolicy", Bucket: "pics", Caller: bobC, BucketOwner: alice, Policy: denyEveryonePolicy}, want: ExplicitDeny},
		{name: "NotAction deny", req: Request{Action: "s3:PutObject", Bucket: "pics", Key: "x", Caller: bobC, BucketOwner: alice, Policy: denyNotAction}, want: ExplicitDeny},
		{name: "NotAction exempted action", req: Request{Action: "s3:GetObject", Bucket: "pics", Key: "x", Caller: bobC, BucketOwner: alice, Policy: denyNotAction, Object: &Object{Owner: alice}}, want: Allow},
		{name: "NotResource allows outside", req: Request{Action: "s3:GetObject", Bucket: "pics", Key: "pub/x", Caller: bobC, BucketOwner: alice, Policy: notResource, Object: &Object{Owner: alice}}, want: Allow},
		{name: "NotResource excludes inside", req: Request{Action: "s3:GetObject", Bucket: "pics", Key: "private/x", Caller: bobC, BucketOwner: alice, Policy: notResource, Object: &Object{Owner: alice}}, want: ImplicitDeny},
		{name: "conditional deny matches", req: Request{Action: "s3:GetObject", Bucket: "pics", Key: "x", Caller: bobC, BucketOwner: alice, Policy: tlsOnly, Object: &Object{Owner: alice}, Context: ctxOf("aws:SecureTransport", "false")}, want: ExplicitDeny},
		{name: "conditional deny does not match", req: Request{Action: "s3:GetObject", Bucket: "pics", Key: "x", Caller: bobC, BucketOwner: alice, Policy: tlsOnly, Object: &Object{Owner: alice}, Context: ctxOf("aws:SecureTransport", "true")}, want: Allow},
		{name: "action names are case-insensitive", req: Request{Action: "s3:getobject", Bucket: "pics", Key: "x", Caller: bobC, BucketOwner: alice, Policy: allowBobGet, Object: &Object{Owner: alice}}, want: Allow},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			if req.Bucket == "" {
				req.Bucket = "pics"
			}
			if req.BucketOwner == "" {
				req.BucketOwner = alice
			}
			require.Equal(t, tc.want.String(), Evaluate(req).String())
		})
	}
}
