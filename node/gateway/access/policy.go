package access

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrMalformedPolicy marks a bucket policy document that does not parse or
// validate; the gateway answers MalformedPolicy with its message.
var ErrMalformedPolicy = errors.New("access: malformed policy")

// MaxPolicySize is S3's limit on a bucket policy document.
const MaxPolicySize = 20 << 10

// Policy is a parsed bucket policy.
type Policy struct {
	Statements []Statement
}

// Statement is one statement of a policy.
type Statement struct {
	Sid          string
	Effect       string // "Allow" or "Deny"
	Principal    *principals
	NotPrincipal *principals
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	Conditions   []condition
}

type principals struct {
	any    bool
	values []string
}

type policyDoc struct {
	Version   string          `json:"Version"`
	ID        string          `json:"Id"`
	Statement json.RawMessage `json:"Statement"`
}

type statementDoc struct {
	Sid          string                                `json:"Sid"`
	Effect       string                                `json:"Effect"`
	Principal    json.RawMessage                       `json:"Principal"`
	NotPrincipal json.RawMessage                       `json:"NotPrincipal"`
	Action       json.RawMessage                       `json:"Action"`
	NotAction    json.RawMessage                       `json:"NotAction"`
	Resource     json.RawMessage                       `json:"Resource"`
	NotResource  json.RawMessage                       `json:"NotResource"`
	Condition    map[string]map[string]json.RawMessage `json:"Condition"`
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedPolicy, fmt.Sprintf(format, args...))
}

// ParsePolicy parses and validates a bucket policy for bucket. Every
// failure wraps ErrMalformedPolicy, with a message in S3's words.
func ParsePolicy(doc []byte, bucket string) (*Policy, error) {
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 || doc[0] != '{' {
		return nil, malformed("Policies must be valid JSON and the first byte must be '{'")
	}
	if len(doc) > MaxPolicySize {
		return nil, malformed("Policy exceeds the maximum allowed document size.")
	}
	var pd policyDoc
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pd); err != nil {
		return nil, malformed("This policy contains invalid Json: %v", err)
	}
	switch pd.Version {
	case "", "2012-10-17", "2008-10-17":
	default:
		return nil, malformed("The policy must contain a valid version string")
	}
	var sds []statementDoc
	switch s := bytes.TrimSpace(pd.Statement); {
	case len(s) == 0 || string(s) == "null":
		return nil, malformed("Missing required field Statement")
	case s[0] == '[':
		if err := strictUnmarshal(s, &sds); err != nil {
			return nil, malformed("This policy contains invalid Json: %v", err)
		}
	default:
		var one statementDoc
		if err := strictUnmarshal(s, &one); err != nil {
			return nil, malformed("This policy contains invalid Json: %v", err)
		}
		sds = []statementDoc{one}
	}
	if len(sds) == 0 {
		return nil, malformed("Could not parse the policy: Statement is empty!")
	}
	p := &Policy{}
	for i, sd := range sds {
		st, err := parseStatement(sd, bucket)
		if err != nil {
			return nil, fmt.Errorf("statement %d: %w", i, err)
		}
		p.Statements = append(p.Statements, st)
	}
	return p, nil
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func present(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

func parseStatement(sd statementDoc, bucket string) (Statement, error) {
	st := Statement{Sid: sd.Sid, Effect: sd.Effect}
	if sd.Effect != "Allow" && sd.Effect != "Deny" {
		return st, malformed("Invalid effect: %s", sd.Effect)
	}
	var err error
	switch {
	case present(sd.Principal) && present(sd.NotPrincipal):
		return st, malformed("Statement has both Principal and NotPrincipal")
	case present(sd.Principal):
		st.Principal, err = parsePrincipals(sd.Principal)
	case present(sd.NotPrincipal):
		st.NotPrincipal, err = parsePrincipals(sd.NotPrincipal)
	default:
		return st, malformed("Missing required field Principal")
	}
	if err != nil {
		return st, err
	}
	switch {
	case present(sd.Action) && present(sd.NotAction):
		return st, malformed("Statement has both Action and NotAction")
	case present(sd.Action):
		st.Action, err = parseActions(sd.Action)
	case present(sd.NotAction):
		st.NotAction, err = parseActions(sd.NotAction)
	default:
		return st, malformed("Missing required field Action")
	}
	if err != nil {
		return st, err
	}
	switch {
	case present(sd.Resource) && present(sd.NotResource):
		return st, malformed("Statement has both Resource and NotResource")
	case present(sd.Resource):
		st.Resource, err = parseResources(sd.Resource, bucket)
	case present(sd.NotResource):
		st.NotResource, err = parseResources(sd.NotResource, bucket)
	default:
		return st, malformed("Missing required field Resource")
	}
	if err != nil {
		return st, err
	}
	for op, kv := range sd.Condition {
		for key, raw := range kv {
			c, err := parseCondition(op, key, raw)
			if err != nil {
				return st, err
			}
			st.Conditions = append(st.Conditions, c)
		}
	}
	return st, nil
}

// stringList decodes a JSON string, or array of strings, and (when
// scalars is set) numbers and booleans as their text.
func stringList(raw json.RawMessage, scalars bool) ([]string, bool) {
	var items []json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &items); err != nil {
			return nil, false
		}
	} else {
		items = []json.RawMessage{t}
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		var s string
		if err := json.Unmarshal(it, &s); err == nil {
			out = append(out, s)
			continue
		}
		if !scalars {
			return nil, false
		}
		var v any
		if err := json.Unmarshal(it, &v); err != nil {
			return nil, false
		}
		switch v := v.(type) {
		case bool:
			out = append(out, fmt.Sprint(v))
		case float64:
			out = append(out, strings.TrimSpace(string(it)))
		default:
			return nil, false
		}
	}
	return out, len(out) > 0
}

func parsePrincipals(raw json.RawMessage) (*principals, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s != "*" {
			return nil, malformed("Invalid principal in policy")
		}
		return &principals{any: true}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || len(m) == 0 {
		return nil, malformed("Invalid principal in policy")
	}
	p := &principals{}
	for kind, v := range m {
		if kind != "AWS" && kind != "CanonicalUser" {
			return nil, malformed("Invalid principal in policy: unsupported principal type %q", kind)
		}
		vals, ok := stringList(v, false)
		if !ok {
			return nil, malformed("Invalid principal in policy")
		}
		for _, val := range vals {
			if val == "*" {
				p.any = true
				continue
			}
			if val == "" {
				return nil, malformed("Invalid principal in policy")
			}
			p.values = append(p.values, val)
		}
	}
	return p, nil
}

func parseActions(raw json.RawMessage) ([]string, error) {
	vals, ok := stringList(raw, false)
	if !ok {
		return nil, malformed("Policy has invalid action")
	}
	for i, a := range vals {
		if a != "*" && !strings.HasPrefix(strings.ToLower(a), "s3:") {
			return nil, malformed("Policy has invalid action")
		}
		vals[i] = strings.ToLower(a)
	}
	return vals, nil
}

func parseResources(raw json.RawMessage, bucket string) ([]string, error) {
	vals, ok := stringList(raw, false)
	if !ok {
		return nil, malformed("Policy has invalid resource")
	}
	for _, r := range vals {
		if r == "*" {
			continue
		}
		rest, ok := strings.CutPrefix(r, "arn:aws:s3:::")
		if !ok {
			return nil, malformed("Policy has invalid resource")
		}
		b, _, _ := strings.Cut(rest, "/")
		if !globMatch(b, bucket) {
			return nil, malformed("Policy has invalid resource")
		}
	}
	return vals, nil
}

// evaluate returns ExplicitDeny if a matching statement denies, else Allow
// if one allows, else ImplicitDeny.
func (p *Policy) evaluate(req Request) Decision {
	out := ImplicitDeny
	for i := range p.Statements {
		st := &p.Statements[i]
		if !st.matches(req) {
			continue
		}
		if st.Effect == "Deny" {
			return ExplicitDeny
		}
		out = Allow
	}
	return out
}

func (st *Statement) matches(req Request) bool {
	if st.Principal != nil && !st.Principal.match(req.Caller) {
		return false
	}
	if st.NotPrincipal != nil && st.NotPrincipal.match(req.Caller) {
		return false
	}
	action := strings.ToLower(req.Action)
	if st.Action != nil && !anyMatch(st.Action, action) {
		return false
	}
	if st.NotAction != nil && anyMatch(st.NotAction, action) {
		return false
	}
	arn := ResourceARN(req.Bucket, req.Key)
	if st.Resource != nil && !anyMatch(st.Resource, arn) {
		return false
	}
	if st.NotResource != nil && anyMatch(st.NotResource, arn) {
		return false
	}
	for _, c := range st.Conditions {
		if !c.eval(req.Context) {
			return false
		}
	}
	return true
}

func anyMatch(patterns []string, s string) bool {
	for _, p := range patterns {
		if globMatch(p, s) {
			return true
		}
	}
	return false
}

func (p *principals) match(c Caller) bool {
	if p.any {
		return true
	}
	if c.Anonymous {
		return false
	}
	for _, v := range p.values {
		switch {
		case v == c.ID || v == c.AccessKey:
			return true
		case strings.HasPrefix(v, "arn:aws:iam::"):
			rest := strings.TrimPrefix(v, "arn:aws:iam::")
			account, res, ok := strings.Cut(rest, ":")
			if !ok {
				continue
			}
			if name, ok := strings.CutPrefix(res, "user/"); ok && name != "" && name == c.Name {
				return true
			}
			if res == "root" && account == c.ID {
				return true
			}
		}
	}
	return false
}
