package access

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParsePolicyErrors(t *testing.T) {
	const ok = `{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pics/*"}`
	cases := []struct {
		name string
		doc  string
	}{
		{"empty", ``},
		{"not an object", `["x"]`},
		{"bad json", `{"Statement": [`},
		{"unknown top-level field", `{"Statement":[` + ok + `],"Extra":1}`},
		{"bad version", `{"Version":"2020-01-01","Statement":[` + ok + `]}`},
		{"no statement", `{"Version":"2012-10-17"}`},
		{"empty statement list", `{"Statement":[]}`},
		{"bad effect", `{"Statement":{"Effect":"Maybe","Principal":"*","Action":"s3:*","Resource":"*"}}`},
		{"no principal", `{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`},
		{"principal not star", `{"Statement":{"Effect":"Allow","Principal":"bob","Action":"s3:*","Resource":"*"}}`},
		{"service principal", `{"Statement":{"Effect":"Allow","Principal":{"Service":"x"},"Action":"s3:*","Resource":"*"}}`},
		{"no action", `{"Statement":{"Effect":"Allow","Principal":"*","Resource":"*"}}`},
		{"non-s3 action", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"ec2:RunInstances","Resource":"*"}}`},
		{"no resource", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*"}}`},
		{"other bucket", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::other/*"}}`},
		{"not an s3 arn", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"pics/*"}}`},
		{"unknown statement field", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Whatever":1}}`},
		{"unknown operator", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"StringSortOf":{"aws:username":"x"}}}}`},
		{"bad cidr", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/99"}}}}`},
		{"bad date", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}}}`},
		{"bad bool", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"yes"}}}}`},
		{"bad number", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":"ten"}}}}`},
		{"both principal and not principal", `{"Statement":{"Effect":"Deny","Principal":"*","NotPrincipal":"*","Action":"s3:*","Resource":"*"}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePolicy([]byte(tc.doc), "pics")
			require.ErrorIs(t, err, ErrMalformedPolicy)
		})
	}
	p, err := ParsePolicy([]byte(`{"Version":"2012-10-17","Id":"x","Statement":[`+ok+`]}`), "pics")
	require.NoError(t, err)
	require.Len(t, p.Statements, 1)
	_, err = ParsePolicy([]byte(`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::pic*"}}`), "pics")
	require.NoError(t, err, "a wildcard covering the bucket is accepted")
}

// conditionRequest evaluates one Allow statement with the given condition
// for a caller with context ctx.
func conditionAllows(t *testing.T, cond string, ctx Context) bool {
	t.Helper()
	doc := `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pics/*","Condition":` + cond + `}}`
	p, err := ParsePolicy([]byte(doc), "pics")
	require.NoError(t, err, cond)
	d := Evaluate(Request{Action: "s3:GetObject", Bucket: "pics", Key: "k", Caller: Caller{ID: bob, Name: "bob"}, BucketOwner: alice,
		Object: &Object{Owner: alice}, Policy: p, Context: ctx})
	return d == Allow
}

func ctxOf(kv ...string) Context {
	c := Context{}
	for i := 0; i+1 < len(kv); i += 2 {
		c.Set(kv[i], kv[i+1])
	}
	return c
}

func TestConditions(t *testing.T) {
	cases := []struct {
		name string
		cond string
		ctx  Context
		want bool
	}{
		{"IpAddress inside", `{"IpAddress":{"aws:SourceIp":"10.1.0.0/16"}}`, ctxOf("aws:SourceIp", "10.1.2.3"), true},
		{"IpAddress outside", `{"IpAddress":{"aws:SourceIp":"10.1.0.0/16"}}`, ctxOf("aws:SourceIp", "10.2.2.3"), false},
		{"IpAddress list", `{"IpAddress":{"aws:SourceIp":["192.0.2.1","10.1.0.0/16"]}}`, ctxOf("aws:SourceIp", "192.0.2.1"), true},
		{"IpAddress ipv6", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, ctxOf("aws:SourceIp", "2001:db8::7"), true},
		{"IpAddress missing key", `{"IpAddress":{"aws:SourceIp":"10.1.0.0/16"}}`, ctxOf(), false},
		{"NotIpAddress outside", `{"NotIpAddress":{"aws:SourceIp":"10.1.0.0/16"}}`, ctxOf("aws:SourceIp", "127.0.0.1"), true},
		{"NotIpAddress inside", `{"NotIpAddress":{"aws:SourceIp":"10.1.0.0/16"}}`, ctxOf("aws:SourceIp", "10.1.0.9"), false},
		{"Bool true", `{"Bool":{"aws:SecureTransport":"true"}}`, ctxOf("aws:SecureTransport", "true"), true},
		{"Bool json false", `{"Bool":{"aws:SecureTransport":false}}`, ctxOf("aws:SecureTransport", "true"), false},
		{"Bool json false matches", `{"Bool":{"aws:SecureTransport":false}}`, ctxOf("aws:SecureTransport", "false"), true},
		{"StringEquals", `{"StringEquals":{"aws:username":"bob"}}`, ctxOf("aws:username", "bob"), true},
		{"StringEquals case", `{"StringEquals":{"aws:username":"Bob"}}`, ctxOf("aws:username", "bob"), false},
		{"StringEquals key case-insensitive", `{"StringEquals":{"AWS:UserName":"bob"}}`, ctxOf("aws:username", "bob"), true},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"aws:username":"BOB"}}`, ctxOf("aws:username", "bob"), true},
		{"StringNotEquals other", `{"StringNotEquals":{"s3:x-amz-acl":"public-read"}}`, ctxOf("s3:x-amz-acl", "private"), true},
		{"StringNotEquals same", `{"StringNotEquals":{"s3:x-amz-acl":"public-read"}}`, ctxOf("s3:x-amz-acl", "public-read"), false},
		{"StringNotEquals missing key", `{"StringNotEquals":{"s3:x-amz-acl":"public-read"}}`, ctxOf(), true},
		{"StringNotEqualsIgnoreCase", `{"StringNotEqualsIgnoreCase":{"aws:username":"BOB"}}`, ctxOf("aws:username", "bob"), false},
		{"StringLike prefix", `{"StringLike":{"s3:prefix":["home/bob/*","shared/*"]}}`, ctxOf("s3:prefix", "shared/x"), true},
		{"StringLike miss", `{"StringLike":{"s3:prefix":"home/bob/*"}}`, ctxOf("s3:prefix", "home/alice/x"), false},
		{"StringNotLike", `{"StringNotLike":{"s3:prefix":"private/*"}}`, ctxOf("s3:prefix", "public/x"), true},
		{"StringEqualsIfExists absent", `{"StringEqualsIfExists":{"s3:x-amz-acl":"private"}}`, ctxOf(), true},
		{"StringEqualsIfExists present other", `{"StringEqualsIfExists":{"s3:x-amz-acl":"private"}}`, ctxOf("s3:x-amz-acl", "public-read"), false},
		{"Null true absent", `{"Null":{"s3:x-amz-server-side-encryption":"true"}}`, ctxOf(), true},
		{"Null true present", `{"Null":{"s3:x-amz-server-side-encryption":"true"}}`, ctxOf("s3:x-amz-server-side-encryption", "AES256"), false},
		{"Null false present", `{"Null":{"s3:x-amz-server-side-encryption":"false"}}`, ctxOf("s3:x-amz-server-side-encryption", "AES256"), true},
		{"DateLessThan before", `{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`, ctxOf("aws:CurrentTime", "2026-05-01T10:00:00Z"), true},
		{"DateLessThan after", `{"DateLessThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}`, ctxOf("aws:CurrentTime", "2026-05-01T10:00:00Z"), false},
		{"DateGreaterThan", `{"DateGreaterThan":{"aws:CurrentTime":"2020-01-01"}}`, ctxOf("aws:CurrentTime", "2026-05-01T10:00:00Z"), true},
		{"DateGreaterThanEquals equal", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2026-05-01T10:00:00Z"}}`, ctxOf("aws:CurrentTime", "2026-05-01T10:00:00Z"), true},
		{"DateEquals epoch", `{"DateEquals":{"aws:CurrentTime":"1777629600"}}`, ctxOf("aws:CurrentTime", "2026-05-01T10:00:00Z"), true},
		{"DateNotEquals", `{"DateNotEquals":{"aws:CurrentTime":"2026-05-01T10:00:00Z"}}`, ctxOf("aws:CurrentTime", "2026-05-01T10:00:00Z"), false},
		{"DateLessThanEquals", `{"DateLessThanEquals":{"aws:CurrentTime":"2026-05-01T10:00:00Z"}}`, ctxOf("aws:CurrentTime", "2026-05-01T10:00:00Z"), true},
		{"NumericLessThanEquals", `{"NumericLessThanEquals":{"s3:max-keys":"10"}}`, ctxOf("s3:max-keys", "10"), true},
		{"NumericLessThan", `{"NumericLessThan":{"s3:max-keys":10}}`, ctxOf("s3:max-keys", "10"), false},
		{"NumericGreaterThan", `{"NumericGreaterThan":{"s3:max-keys":"5"}}`, ctxOf("s3:max-keys", "10"), true},
		{"NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"s3:max-keys":"11"}}`, ctxOf("s3:max-keys", "10"), false},
		{"NumericEquals", `{"NumericEquals":{"s3:max-keys":"10.0"}}`, ctxOf("s3:max-keys", "10"), true},
		{"NumericNotEquals", `{"NumericNotEquals":{"s3:max-keys":"10"}}`, ctxOf("s3:max-keys", "9"), true},
		{"ArnLike", `{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::pics*"}}`, ctxOf("aws:SourceArn", "arn:aws:s3:::pics2"), true},
		{"two keys are ANDed", `{"StringEquals":{"aws:username":"bob","s3:x-amz-acl":"private"}}`, ctxOf("aws:username", "bob", "s3:x-amz-acl", "public-read"), false},
		{"two operators are ANDed", `{"StringEquals":{"aws:username":"bob"},"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}}`, ctxOf("aws:username", "bob", "aws:SourceIp", "127.0.0.1"), true},
		{"ForAllValues all in list", `{"ForAllValues:StringEquals":{"s3:tags":["a","b"]}}`, Context{"s3:tags": {"a", "b"}}, true},
		{"ForAllValues one outside", `{"ForAllValues:StringEquals":{"s3:tags":["a","b"]}}`, Context{"s3:tags": {"a", "c"}}, false},
		{"ForAnyValue one inside", `{"ForAnyValue:StringEquals":{"s3:tags":["a"]}}`, Context{"s3:tags": {"x", "a"}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, conditionAllows(t, tc.cond, tc.ctx))
		})
	}
}
