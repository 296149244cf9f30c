package access

import (
	"encoding/json"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// condition is one (operator, key, values) test of a statement's Condition
// block. Values of one key are ORed; conditions are ANDed.
type condition struct {
	op       string // base operator, e.g. "StringLike"
	key      string // lower case
	values   []string
	ifExists bool
	// forAll: every value of the key in the request must match (the
	// ForAllValues: set qualifier); otherwise any one must.
	forAll bool
	nets   []netip.Prefix
}

// negatedOps are operators that are true when nothing matches; a missing
// key makes them true as well.
var negatedOps = map[string]bool{
	"StringNotEquals": true, "StringNotEqualsIgnoreCase": true, "StringNotLike": true,
	"NumericNotEquals": true, "DateNotEquals": true, "NotIpAddress": true, "ArnNotEquals": true, "ArnNotLike": true,
}

var knownOps = map[string]bool{
	"StringEquals": true, "StringNotEquals": true, "StringEqualsIgnoreCase": true, "StringNotEqualsIgnoreCase": true,
	"StringLike": true, "StringNotLike": true,
	"NumericEquals": true, "NumericNotEquals": true, "NumericLessThan": true, "NumericLessThanEquals": true,
	"NumericGreaterThan": true, "NumericGreaterThanEquals": true,
	"DateEquals": true, "DateNotEquals": true, "DateLessThan": true, "DateLessThanEquals": true,
	"DateGreaterThan": true, "DateGreaterThanEquals": true,
	"Bool": true, "IpAddress": true, "NotIpAddress": true, "Null": true,
	"ArnEquals": true, "ArnLike": true, "ArnNotEquals": true, "ArnNotLike": true,
}

func parseCondition(op, key string, raw json.RawMessage) (condition, error) {
	c := condition{key: strings.ToLower(key)}
	base := op
	if s, ok := strings.CutPrefix(base, "ForAllValues:"); ok {
		base, c.forAll = s, true
	} else if s, ok := strings.CutPrefix(base, "ForAnyValue:"); ok {
		base = s
	}
	if s, ok := strings.CutSuffix(base, "IfExists"); ok && base != "Null" {
		base, c.ifExists = s, true
	}
	if !knownOps[base] {
		return c, malformed("Invalid Condition type : %s", op)
	}
	if key == "" {
		return c, malformed("Invalid Condition: empty key")
	}
	c.op = base
	vals, ok := stringList(raw, true)
	if !ok {
		return c, malformed("Invalid Condition value for %s %s", op, key)
	}
	c.values = vals
	for _, v := range vals {
		switch base {
		case "IpAddress", "NotIpAddress":
			p, err := parseNet(v)
			if err != nil {
				return c, malformed("Invalid IP address or CIDR %q for %s", v, key)
			}
			c.nets = append(c.nets, p)
		case "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals":
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				return c, malformed("Invalid numeric value %q for %s", v, key)
			}
		case "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals":
			if _, ok := parseDate(v); !ok {
				return c, malformed("Invalid date value %q for %s", v, key)
			}
		case "Bool", "Null":
			if v != "true" && v != "false" {
				return c, malformed("Invalid boolean value %q for %s", v, key)
			}
		}
	}
	return c, nil
}

func parseNet(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseDate accepts ISO 8601 (RFC 3339, or a bare date) and epoch seconds.
func parseDate(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	return time.Time{}, false
}

func (c condition) eval(ctx Context) bool {
	got, exists := ctx[c.key]
	if c.op == "Null" {
		return (c.values[0] == "true") == (!exists || len(got) == 0)
	}
	if !exists || len(got) == 0 {
		return c.ifExists || negatedOps[c.op] || c.forAll
	}
	negated := negatedOps[c.op]
	if c.forAll {
		for _, g := range got {
			if c.positive(g) == negated {
				return false
			}
		}
		return true
	}
	for _, g := range got {
		if c.positive(g) {
			return !negated
		}
	}
	return negated
}

// positive reports whether the request value got matches any policy value
// under the operator's positive form.
func (c condition) positive(got string) bool {
	switch c.op {
	case "IpAddress", "NotIpAddress":
		a, err := netip.ParseAddr(got)
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, n := range c.nets {
			if n.Contains(a) {
				return true
			}
		}
		return false
	}
	for _, want := range c.values {
		if c.compare(got, want) {
			return true
		}
	}
	return false
}

func (c condition) compare(got, want string) bool {
	switch c.op {
	case "StringEquals", "StringNotEquals", "ArnEquals", "ArnNotEquals":
		return got == want
	case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
		return strings.EqualFold(got, want)
	case "StringLike", "StringNotLike", "ArnLike", "ArnNotLike":
		return globMatch(want, got)
	case "Bool":
		return strings.EqualFold(got, want)
	case "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals":
		g, err1 := strconv.ParseFloat(got, 64)
		w, err2 := strconv.ParseFloat(want, 64)
		if err1 != nil || err2 != nil {
			return false
		}
		return order(c.op, cmpFloat(g, w))
	default: // Date*
		g, ok1 := parseDate(got)
		w, ok2 := parseDate(want)
		if !ok1 || !ok2 {
			return false
		}
		return order(c.op, g.Compare(w))
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// order applies the comparison suffix of a Numeric*/Date* operator to the
// result of comparing the request value with the policy value.
func order(op string, cmp int) bool {
	switch {
	case strings.HasSuffix(op, "NotEquals"), strings.HasSuffix(op, "Equals") && !strings.Contains(op, "Than"):
		return cmp == 0
	case strings.HasSuffix(op, "LessThanEquals"):
		return cmp <= 0
	case strings.HasSuffix(op, "LessThan"):
		return cmp < 0
	case strings.HasSuffix(op, "GreaterThanEquals"):
		return cmp >= 0
	case strings.HasSuffix(op, "GreaterThan"):
		return cmp > 0
	}
	return false
}
