package postpolicy

import (
	"encoding/base64"
	"errors"
	"testing"
	"time"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestParse(t *testing.T) {
	tests := []struct {
		name, doc string
		wantErr   bool
		conds     int
		lenRange  [2]int64
	}{
		{"AWS example shape", `{"expiration":"2015-12-30T12:00:00.000Z","conditions":[{"bucket":"sigv4examplebucket"},["starts-with","$key","user/user1/"],{"acl":"public-read"},["content-length-range",1,10485760]]}`, false, 3, [2]int64{1, 10485760}},
		{"no expiration", `{"conditions":[]}`, true, 0, [2]int64{}},
		{"bad expiration", `{"expiration":"tomorrow","conditions":[]}`, true, 0, [2]int64{}},
		{"no conditions", `{"expiration":"2015-12-30T12:00:00Z"}`, true, 0, [2]int64{}},
		{"unknown op", `{"expiration":"2015-12-30T12:00:00Z","conditions":[["like","$key","a"]]}`, true, 0, [2]int64{}},
		{"field without $", `{"expiration":"2015-12-30T12:00:00Z","conditions":[["eq","key","a"]]}`, true, 0, [2]int64{}},
		{"inverted range", `{"expiration":"2015-12-30T12:00:00Z","conditions":[["content-length-range",10,1]]}`, true, 0, [2]int64{}},
		{"two fields in one object", `{"expiration":"2015-12-30T12:00:00Z","conditions":[{"a":"1","b":"2"}]}`, true, 0, [2]int64{}},
		{"not JSON", `{`, true, 0, [2]int64{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(b64(tc.doc))
			if tc.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Parse error %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Conditions) != tc.conds || [2]int64{p.MinLength, p.MaxLength} != tc.lenRange {
				t.Fatalf("conditions %d, range %d..%d", len(p.Conditions), p.MinLength, p.MaxLength)
			}
		})
	}
	if _, err := Parse("%%%"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("non-base64 policy: %v", err)
	}
}

func TestCheck(t *testing.T) {
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	p, err := Parse(b64(`{"expiration":"2030-01-01T00:00:00.000Z","conditions":[
		{"bucket":"b"},["starts-with","$key","user/"],["eq","$acl","private"],
		["starts-with","$Content-Type","image/"],["starts-with","$x-amz-meta-tag",""]]}`))
	if err != nil {
		t.Fatal(err)
	}
	base := func() map[string]string {
		return map[string]string{"bucket": "b", "key": "user/a", "acl": "private", "content-type": "image/png", "x-amz-signature": "s", "policy": "p"}
	}
	tests := []struct {
		name   string
		edit   func(map[string]string)
		now    time.Time
		want   error
		reason string
	}{
		{"all met", func(map[string]string) {}, exp.Add(-time.Second), nil, ""},
		{"starts-with empty matches absent field", func(f map[string]string) { f["x-amz-meta-tag"] = "anything" }, exp.Add(-time.Second), nil, ""},
		{"several content types", func(f map[string]string) { f["content-type"] = "image/png, image/jpeg" }, exp.Add(-time.Second), nil, ""},
		{"expired", func(map[string]string) {}, exp, ErrExpired, ""},
		{"wrong bucket", func(f map[string]string) { f["bucket"] = "c" }, exp.Add(-time.Second), ErrRejected, `Policy Condition failed: {"bucket":"b"}`},
		{"key prefix", func(f map[string]string) { f["key"] = "admin/x" }, exp.Add(-time.Second), ErrRejected, `Policy Condition failed: ["starts-with","$key","user/"]`},
		{"eq", func(f map[string]string) { f["acl"] = "public-read" }, exp.Add(-time.Second), ErrRejected, `Policy Condition failed: ["eq","$acl","private"]`},
		{"missing field", func(f map[string]string) { delete(f, "acl") }, exp.Add(-time.Second), ErrRejected, `Policy Condition failed: ["eq","$acl","private"]`},
		{"extra field", func(f map[string]string) { f["x-amz-meta-other"] = "1"; f["cache-control"] = "x" }, exp.Add(-time.Second), ErrRejected, "Extra input fields: cache-control, x-amz-meta-other"},
		{"x-ignore- field", func(f map[string]string) { f["x-ignore-submit"] = "1" }, exp.Add(-time.Second), nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := base()
			tc.edit(f)
			err := p.Check(f, tc.now)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
			var rej *Rejection
			if tc.reason != "" && (!errors.As(err, &rej) || rej.Reason != tc.reason) {
				t.Fatalf("reason %v, want %q", err, tc.reason)
			}
		})
	}
}
