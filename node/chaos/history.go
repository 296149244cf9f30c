package chaos

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// OpKind is what a client asked for.
type OpKind uint8

const (
	OpGet         OpKind = iota + 1
	OpPut                // unconditional PUT
	OpPutIfAbsent        // PUT with If-None-Match: *
	OpPutIfMatch         // PUT with If-Match: "<etag of Match>"
	OpDelete
)

var opNames = map[OpKind]string{OpGet: "get", OpPut: "put", OpPutIfAbsent: "put-if-absent", OpPutIfMatch: "put-if-match", OpDelete: "delete"}

func (k OpKind) String() string {
	if s, ok := opNames[k]; ok {
		return s
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// IsWrite reports whether the operation may change the key.
func (k OpKind) IsWrite() bool { return k != OpGet }

// Outcome is what a client learned about its operation.
type Outcome uint8

const (
	// OK: the operation took effect (a write was acknowledged, a read
	// returned a body or 404: Value says which).
	OK Outcome = iota + 1
	// PreconditionFailed: 412, the conditional write took no effect.
	PreconditionFailed
	// NoSuchKey: 404 to If-Match, the write took no effect.
	NoSuchKey
	// Unknown: a write may or may not have taken effect (timeout, 5xx,
	// connection lost after the request was sent); a read failed.
	Unknown
	// NotSent: the request never reached a server (connection refused);
	// it is left out of the checks.
	NotSent
)

var outcomeNames = map[Outcome]string{OK: "ok", PreconditionFailed: "precondition-failed", NoSuchKey: "no-such-key", Unknown: "unknown", NotSent: "not-sent"}

func (o Outcome) String() string {
	if s, ok := outcomeNames[o]; ok {
		return s
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// Op is one recorded operation: call and return times are offsets from the
// start of the history.
type Op struct {
	Client int
	Kind   OpKind
	Key    string
	// Value is the value a write sent, or the value a read returned (Absent
	// for 404, or when the bytes were corrupt).
	Value   ValueID
	Match   ValueID // OpPutIfMatch: the value whose ETag was sent
	Size    int     // bytes written or read
	Call    time.Duration
	Return  time.Duration
	Outcome Outcome
	// Corrupt says why the bytes a read returned are no written value.
	Corrupt string
	Err     string
	// Final marks the reads of the durability check.
	Final bool
}

func (o Op) String() string {
	s := fmt.Sprintf("[%v..%v] c%d %s %s", o.Call.Round(time.Millisecond), o.Return.Round(time.Millisecond), o.Client, o.Kind, o.Key)
	switch o.Kind {
	case OpGet:
	case OpPutIfMatch:
		s += fmt.Sprintf(" %v if-match %v", o.Value, o.Match)
	default:
		if o.Kind != OpDelete {
			s += " " + o.Value.String()
		}
	}
	s += " -> " + o.Outcome.String()
	if o.Kind == OpGet && o.Outcome == OK {
		s += " " + o.Value.String()
	}
	if o.Corrupt != "" {
		s += " CORRUPT: " + o.Corrupt
	}
	if o.Err != "" {
		s += " (" + o.Err + ")"
	}
	return s
}

// History records operations from concurrent clients.
type History struct {
	start time.Time
	mu    struct {
		sync.Mutex
		ops []Op
	}
}

// NewHistory starts a history now.
func NewHistory() *History { return &History{start: time.Now()} }

// Now is the offset of the current moment from the start of the history.
func (h *History) Now() time.Duration { return time.Since(h.start) }

// Add records op.
func (h *History) Add(op Op) {
	h.mu.Lock()
	h.mu.ops = append(h.mu.ops, op)
	h.mu.Unlock()
}

// Ops returns a copy of the recorded operations in call order.
func (h *History) Ops() []Op {
	h.mu.Lock()
	ops := slices.Clone(h.mu.ops)
	h.mu.Unlock()
	slices.SortStableFunc(ops, func(a, b Op) int { return int(a.Call - b.Call) })
	return ops
}
