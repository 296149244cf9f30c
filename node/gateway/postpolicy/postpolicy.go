// Package postpolicy parses and checks the policy document of a browser
// POST upload: a base64 JSON object with an expiration time and a list of
// conditions (exact matches, "eq", "starts-with" and
// "content-length-range") that every form field must satisfy.
package postpolicy

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Sentinels; the gateway answers each as S3 does.
var (
	// ErrMalformed: 400 InvalidPolicyDocument.
	ErrMalformed = errors.New("postpolicy: malformed policy document")
	// ErrExpired: 403 AccessDenied "Invalid according to Policy: Policy
	// expired."
	ErrExpired = errors.New("postpolicy: policy expired")
	// ErrRejected: 403 AccessDenied "Invalid according to Policy: …", the
	// reason being a *Rejection's.
	ErrRejected = errors.New("postpolicy: form does not satisfy the policy")
)

// Rejection says which condition or field failed; it wraps ErrRejected.
type Rejection struct{ Reason string }

func (r *Rejection) Error() string { return "postpolicy: " + r.Reason }
func (r *Rejection) Unwrap() error { return ErrRejected }

// Op is a condition's match.
type Op int

const (
	// Eq requires the field to equal Value.
	Eq Op = iota
	// StartsWith requires the field to begin with Value ("" matches any).
	StartsWith
)

// Condition is one field condition of a policy.
type Condition struct {
	Op Op
	// Field is the lower-cased form field name, without the '$'.
	Field string
	Value string
	// raw is the condition as written, for error messages.
	raw string
}

// Policy is a parsed policy document.
type Policy struct {
	Expiration time.Time
	Conditions []Condition
	// MinLength and MaxLength bound the file's size when HasLengthRange.
	MinLength, MaxLength int64
	HasLengthRange       bool
}

// Parse decodes the base64 policy field.
func Parse(b64 string) (*Policy, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, fmt.Errorf("%w: policy is not base64", ErrMalformed)
	}
	var doc struct {
		Expiration *string           `json:"expiration"`
		Conditions []json.RawMessage `json:"conditions"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if doc.Expiration == nil {
		return nil, fmt.Errorf("%w: Policy missing expiration", ErrMalformed)
	}
	exp, err := time.Parse(time.RFC3339Nano, *doc.Expiration)
	if err != nil {
		return nil, fmt.Errorf("%w: Invalid 'expiration' value: '%s'", ErrMalformed, *doc.Expiration)
	}
	if doc.Conditions == nil {
		return nil, fmt.Errorf("%w: Policy missing conditions", ErrMalformed)
	}
	p := &Policy{Expiration: exp}
	for _, c := range doc.Conditions {
		if err := p.addCondition(c); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *Policy) addCondition(c json.RawMessage) error {
	var obj map[string]any
	if json.Unmarshal(c, &obj) == nil {
		// {"field": "value"}: an exact match, one field per object.
		if len(obj) != 1 {
			return fmt.Errorf("%w: condition %s must name exactly one field", ErrMalformed, c)
		}
		for k, v := range obj {
			s, ok := v.(string)
			if !ok {
				return fmt.Errorf("%w: condition %s: value must be a string", ErrMalformed, c)
			}
			p.Conditions = append(p.Conditions, Condition{Op: Eq, Field: strings.ToLower(k), Value: s, raw: string(c)})
		}
		return nil
	}
	var arr []any
	if err := json.Unmarshal(c, &arr); err != nil || len(arr) != 3 {
		return fmt.Errorf("%w: Invalid Policy: Invalid Simple-Condition: %s", ErrMalformed, c)
	}
	op, _ := arr[0].(string)
	switch strings.ToLower(op) {
	case "content-length-range":
		lo, ok1 := arr[1].(float64)
		hi, ok2 := arr[2].(float64)
		if !ok1 || !ok2 || lo < 0 || hi < lo || lo != math.Trunc(lo) || hi != math.Trunc(hi) {
			return fmt.Errorf("%w: Invalid Policy: Invalid content-length-range %s", ErrMalformed, c)
		}
		p.MinLength, p.MaxLength, p.HasLengthRange = int64(lo), int64(hi), true
		return nil
	case "eq", "starts-with":
		field, ok1 := arr[1].(string)
		value, ok2 := arr[2].(string)
		if !ok1 || !ok2 || !strings.HasPrefix(field, "$") {
			return fmt.Errorf("%w: Invalid Policy: Invalid Simple-Condition: %s", ErrMalformed, c)
		}
		cond := Condition{Op: Eq, Field: strings.ToLower(field[1:]), Value: value, raw: string(c)}
		if strings.EqualFold(op, "starts-with") {
			cond.Op = StartsWith
		}
		p.Conditions = append(p.Conditions, cond)
		return nil
	}
	return fmt.Errorf("%w: Invalid Policy: Invalid Condition: unknown operation %q", ErrMalformed, op)
}

// exempt are the form fields no condition needs to cover.
func exempt(name string) bool {
	switch name {
	case "x-amz-signature", "signature", "awsaccesskeyid", "file", "policy":
		return true
	}
	return strings.HasPrefix(name, "x-ignore-")
}

// Check verifies fields (lower-cased names; "bucket" is the request's
// bucket) against p at now: not expired, every condition met, and every
// field but the exempt ones covered by a condition.
func (p *Policy) Check(fields map[string]string, now time.Time) error {
	if !now.Before(p.Expiration) {
		return ErrExpired
	}
	covered := map[string]bool{}
	for _, c := range p.Conditions {
		covered[c.Field] = true
		v := fields[c.Field]
		ok := v == c.Value
		if c.Op == StartsWith {
			ok = strings.HasPrefix(v, c.Value)
			if c.Field == "content-type" && !ok {
				// A Content-Type may list several types, each checked.
				ok = allStartWith(v, c.Value)
			}
		}
		if !ok {
			return &Rejection{Reason: "Policy Condition failed: " + c.raw}
		}
	}
	var extra []string
	for name := range fields {
		if !covered[name] && !exempt(name) && name != "bucket" {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return &Rejection{Reason: "Extra input fields: " + strings.Join(extra, ", ")}
	}
	return nil
}

func allStartWith(list, prefix string) bool {
	for _, t := range strings.Split(list, ",") {
		if !strings.HasPrefix(strings.TrimSpace(t), prefix) {
			return false
		}
	}
	return list != ""
}
