package gateway

import (
	"errors"
	"strconv"
	"strings"
)

// errRangeNotSatisfiable is a syntactically valid Range that selects no
// byte of the object: S3 answers 416 InvalidRange.
var errRangeNotSatisfiable = errors.New("gateway: range not satisfiable")

// byteRange is the part of an object a GET returns.
type byteRange struct {
	start, length int64
}

// parseRange interprets a Range header for an object of size bytes the way
// S3 does: a single "bytes=a-b", "bytes=a-" or "bytes=-n" is honoured;
// an absent, malformed or multi-range header is ignored (ok is false and the
// whole object is returned); a range that starts at or beyond the end, or
// a zero-length suffix, yields errRangeNotSatisfiable.
func parseRange(h string, size int64) (r byteRange, ok bool, err error) {
	h = strings.TrimSpace(h)
	if len(h) < len("bytes=") || !strings.EqualFold(h[:len("bytes=")], "bytes=") {
		return byteRange{}, false, nil
	}
	spec := strings.TrimSpace(h[len("bytes="):])
	if strings.Contains(spec, ",") {
		return byteRange{}, false, nil
	}
	first, last, found := strings.Cut(spec, "-")
	if !found {
		return byteRange{}, false, nil
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" {
		n, valid := parseDigits(last)
		if !valid {
			return byteRange{}, false, nil
		}
		if n == 0 || size == 0 {
			return byteRange{}, false, errRangeNotSatisfiable
		}
		n = min(n, size)
		return byteRange{start: size - n, length: n}, true, nil
	}
	start, valid := parseDigits(first)
	if !valid {
		return byteRange{}, false, nil
	}
	end := size - 1
	if last != "" {
		e, valid := parseDigits(last)
		if !valid || e < start {
			return byteRange{}, false, nil
		}
		end = min(e, size-1)
	}
	if start >= size {
		return byteRange{}, false, errRangeNotSatisfiable
	}
	return byteRange{start: start, length: end - start + 1}, true, nil
}

// parseDigits accepts only decimal digits (no sign, no spaces) that fit in
// an int64.
func parseDigits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}
