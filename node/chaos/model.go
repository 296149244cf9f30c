package chaos

import (
	"fmt"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

// Verdict is the result of the linearizability check.
type Verdict string

const (
	Linearizable    Verdict = "linearizable"
	NotLinearizable Verdict = "NOT linearizable"
	// Undecided: the checker ran out of time.
	Undecided Verdict = "undecided (checker timed out)"
)

type regInput struct {
	key   string
	kind  OpKind
	value ValueID
	match ValueID
}

type regOutput struct {
	outcome Outcome
	value   ValueID // a read's result
	corrupt bool
}

// registerModel is a per-key register whose state is the current ValueID
// (Absent for no object). Writes of unknown outcome step either way: they
// are given the end of the history as their return time, so "took no
// effect" is the linearization at the very end.
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(regInput).key
			byKey[k] = append(byKey[k], op)
		}
		keys := make([]string, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() interface{} { return Absent },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		return step(state.(ValueID), input.(regInput), output.(regOutput))
	},
	Hash: func(state interface{}) uint64 { return uint64(state.(ValueID)) },
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(regInput), output.(regOutput)
		switch in.kind {
		case OpGet:
			if out.corrupt {
				return fmt.Sprintf("get(%s) -> CORRUPT", in.key)
			}
			return fmt.Sprintf("get(%s) -> %v", in.key, out.value)
		case OpDelete:
			return fmt.Sprintf("delete(%s) -> %v", in.key, out.outcome)
		case OpPutIfMatch:
			return fmt.Sprintf("put(%s, %v, if-match %v) -> %v", in.key, in.value, in.match, out.outcome)
		default:
			return fmt.Sprintf("%v(%s, %v) -> %v", in.kind, in.key, in.value, out.outcome)
		}
	},
	DescribeState: func(state interface{}) string { return state.(ValueID).String() },
}

func step(state ValueID, in regInput, out regOutput) (bool, ValueID) {
	switch in.kind {
	case OpGet:
		return !out.corrupt && out.outcome == OK && out.value == state, state
	case OpPut:
		return out.outcome == OK || out.outcome == Unknown, in.value
	case OpDelete:
		return out.outcome == OK || out.outcome == Unknown, Absent
	case OpPutIfAbsent:
		switch out.outcome {
		case OK:
			return state == Absent, in.value
		case PreconditionFailed:
			return state != Absent, state
		case Unknown:
			if state == Absent {
				return true, in.value
			}
			return true, state
		}
	case OpPutIfMatch:
		switch out.outcome {
		case OK:
			return state == in.match, in.value
		case PreconditionFailed:
			return state != Absent && state != in.match, state
		case NoSuchKey:
			return state == Absent, state
		case Unknown:
			if state == in.match {
				return true, in.value
			}
			return true, state
		}
	}
	return false, state
}

// porcupineOps converts a history for the checker: requests never sent and
// failed reads are left out (they had no effect and observed nothing);
// writes of unknown outcome return after everything else.
func porcupineOps(ops []Op) []porcupine.Operation {
	var end time.Duration
	for _, o := range ops {
		end = max(end, o.Return)
	}
	end++
	out := make([]porcupine.Operation, 0, len(ops))
	for _, o := range ops {
		if o.Outcome == NotSent || (o.Kind == OpGet && o.Outcome != OK) {
			continue
		}
		outcome := o.Outcome
		ret := o.Return
		if o.Kind.IsWrite() && !definite(o) {
			outcome = Unknown
			ret = end
		}
		out = append(out, porcupine.Operation{
			ClientId: o.Client,
			Input:    regInput{key: o.Key, kind: o.Kind, value: o.Value, match: o.Match},
			Call:     int64(o.Call),
			Output:   regOutput{outcome: outcome, value: o.Value, corrupt: o.Corrupt != ""},
			Return:   int64(ret),
		})
	}
	return out
}

// definite reports whether a write's outcome is known: acknowledged, or
// refused by its precondition.
func definite(o Op) bool {
	switch o.Outcome {
	case OK:
		return true
	case PreconditionFailed:
		return o.Kind == OpPutIfAbsent || o.Kind == OpPutIfMatch
	case NoSuchKey:
		return o.Kind == OpPutIfMatch
	}
	return false
}

// CheckLinearizable checks the history against the per-key register model.
// When visualize is non-empty and the history is not linearizable, an HTML
// visualization of the failing key is written there.
func CheckLinearizable(ops []Op, timeout time.Duration, visualize string) (Verdict, error) {
	res, info := porcupine.CheckOperationsVerbose(registerModel, porcupineOps(ops), timeout)
	switch res {
	case porcupine.Ok:
		return Linearizable, nil
	case porcupine.Illegal:
		if visualize != "" {
			if err := porcupine.VisualizePath(registerModel, info, visualize); err != nil {
				return NotLinearizable, fmt.Errorf("chaos: write visualization: %w", err)
			}
		}
		return NotLinearizable, nil
	default:
		return Undecided, nil
	}
}
