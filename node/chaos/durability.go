package chaos

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Finding is one lost or corrupted object.
type Finding struct {
	Key    string        `json:"key"`
	Reason string        `json:"reason"`
	Got    string        `json:"got,omitempty"`
	Want   []string      `json:"want,omitempty"` // the values that could be current
	At     time.Duration `json:"at_ns"`          // when it was read
}

func (f Finding) String() string {
	s := fmt.Sprintf("%s at %v: %s", f.Key, f.At.Round(time.Millisecond), f.Reason)
	if f.Got != "" {
		s += ", got " + f.Got
	}
	if len(f.Want) > 0 {
		s += ", want one of " + strings.Join(f.Want, " ")
	}
	return s
}

// Candidates returns the values a key may hold once every operation of ops
// (the non-final operations on that key) has ended: the value of each write
// that took or may have taken effect and that no acknowledged write or
// delete definitely followed (called after it returned). Absent stands for
// a delete, or for the initial state when nothing was acknowledged.
func Candidates(ops []Op) []ValueID {
	var effective, acked []Op
	for _, o := range ops {
		if !o.Kind.IsWrite() || o.Final || o.Outcome == NotSent {
			continue
		}
		if definite(o) && o.Outcome != OK {
			continue // refused by its precondition: no effect
		}
		effective = append(effective, o)
		if o.Outcome == OK {
			acked = append(acked, o)
		}
	}
	set := map[ValueID]bool{}
	if len(acked) == 0 {
		set[Absent] = true
	}
	for _, e := range effective {
		superseded := false
		if e.Outcome == OK { // a write of unknown outcome may land at any later time
			for _, a := range acked {
				if a.Call > e.Return {
					superseded = true
					break
				}
			}
		}
		if superseded {
			continue
		}
		if e.Kind == OpDelete {
			set[Absent] = true
		} else {
			set[e.Value] = true
		}
	}
	out := make([]ValueID, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// CheckDurability compares the final reads of each key (Op.Final) with the
// values it may hold. It returns the lost objects (an acknowledged value
// missing, replaced by an older one, or unreadable) and every read, final
// or not, that returned bytes no client wrote.
func CheckDurability(ops []Op) (lost, corrupted []Finding) {
	byKey := map[string][]Op{}
	final := map[string][]Op{}
	written := map[ValueID]bool{}
	for _, o := range ops {
		if o.Kind.IsWrite() && o.Kind != OpDelete {
			written[o.Value] = true
		}
	}
	for _, o := range ops {
		if o.Corrupt != "" {
			corrupted = append(corrupted, Finding{Key: o.Key, Reason: o.Corrupt, At: o.Call})
		} else if o.Kind == OpGet && o.Outcome == OK && o.Value != Absent && !written[o.Value] {
			corrupted = append(corrupted, Finding{Key: o.Key, Reason: "a well-formed value no client ever sent", Got: o.Value.String(), At: o.Call})
		}
		if o.Final {
			final[o.Key] = append(final[o.Key], o)
		} else {
			byKey[o.Key] = append(byKey[o.Key], o)
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	for k := range final {
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		cands := Candidates(byKey[k])
		want := make([]string, len(cands))
		for i, c := range cands {
			want[i] = c.String()
		}
		var read *Op
		for i := range final[k] {
			if o := final[k][i]; o.Outcome == OK && o.Corrupt == "" {
				read = &final[k][i] // the last good read counts
			}
		}
		mayExist := len(cands) > 1 || (len(cands) == 1 && cands[0] != Absent)
		switch {
		case read == nil:
			if mayExist {
				at := time.Duration(0)
				if n := len(final[k]); n > 0 {
					at = final[k][n-1].Call
				}
				lost = append(lost, Finding{Key: k, Reason: "unreadable after the cluster settled", Want: want, At: at})
			}
		case slices.Contains(cands, read.Value):
		case read.Value == Absent:
			lost = append(lost, Finding{Key: k, Reason: "acknowledged object is missing (404)", Got: "absent", Want: want, At: read.Call})
		default:
			lost = append(lost, Finding{Key: k, Reason: "reads a value that was overwritten or deleted", Got: read.Value.String(), Want: want, At: read.Call})
		}
	}
	return lost, corrupted
}
