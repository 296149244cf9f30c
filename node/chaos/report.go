package chaos

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// OpStats counts the operations of a history.
type OpStats struct {
	Total              int            `json:"total"`
	ByKind             map[string]int `json:"by_kind"`
	OK                 int            `json:"ok"`
	PreconditionFailed int            `json:"precondition_failed"`
	NoSuchKey          int            `json:"no_such_key"`
	Indeterminate      int            `json:"indeterminate"` // writes of unknown outcome
	FailedReads        int            `json:"failed_reads"`
	NotSent            int            `json:"not_sent"`
	FinalReads         int            `json:"final_reads"`
}

// CountOps summarizes a history.
func CountOps(ops []Op) OpStats {
	s := OpStats{ByKind: map[string]int{}}
	for _, o := range ops {
		if o.Final {
			s.FinalReads++
			continue
		}
		s.Total++
		s.ByKind[o.Kind.String()]++
		switch {
		case o.Outcome == NotSent:
			s.NotSent++
		case o.Kind == OpGet && o.Outcome != OK:
			s.FailedReads++
		case o.Kind.IsWrite() && !definite(o):
			s.Indeterminate++
		case o.Outcome == PreconditionFailed:
			s.PreconditionFailed++
		case o.Outcome == NoSuchKey:
			s.NoSuchKey++
		default:
			s.OK++
		}
	}
	return s
}

// RepairFigures compare how long repair took with what the product
// predicted. The harness measures Measured around the WaitRepaired hook and
// asks PredictRepair for Predicted; a caller may fill them itself.
type RepairFigures struct {
	Measured  time.Duration `json:"measured_ns,omitempty"`
	Predicted time.Duration `json:"predicted_ns,omitempty"`
	Note      string        `json:"note,omitempty"`
}

// Report is what a campaign found.
type Report struct {
	Seed      uint64        `json:"seed"`
	Mode      string        `json:"mode"` // "netns" or "loopback"
	ModeNote  string        `json:"mode_note,omitempty"`
	Wall      time.Duration `json:"wall_ns"`
	Episodes  int           `json:"episodes"` // run, of the plan
	Plan      []string      `json:"plan"`
	Faults    []KindStats   `json:"faults"`
	Ops       OpStats       `json:"ops"`
	Lost      []Finding     `json:"lost"`
	Corrupted []Finding     `json:"corrupted"`
	Verdict   Verdict       `json:"linearizability"`
	// Visualization is an HTML rendering of a non-linearizable history.
	Visualization string `json:"visualization,omitempty"`
	// Problems are availability trouble seen on the way: faults that could
	// not be healed, a cluster that did not recover in time.
	Problems []string      `json:"problems,omitempty"`
	Repair   RepairFigures `json:"repair"`
}

// Failures lists why the campaign fails: lost or corrupted objects, or a
// history that is not linearizable. Problems alone do not fail it.
func (r *Report) Failures() []string {
	var out []string
	if n := len(r.Lost); n > 0 {
		out = append(out, fmt.Sprintf("%d objects lost", n))
	}
	if n := len(r.Corrupted); n > 0 {
		out = append(out, fmt.Sprintf("%d corrupted reads", n))
	}
	if r.Verdict == NotLinearizable {
		out = append(out, "history not linearizable")
	}
	return out
}

// JSON renders the report as indented JSON.
func (r *Report) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// Table renders the report for people.
func (r *Report) Table() string {
	var b strings.Builder
	mode := r.Mode
	if r.ModeNote != "" {
		mode += " (" + r.ModeNote + ")"
	}
	fmt.Fprintf(&b, "chaos campaign  seed=%d  mode=%s  wall=%v\n", r.Seed, mode, r.Wall.Round(time.Second))
	fmt.Fprintf(&b, "episodes: %d\n", r.Episodes)
	for i, p := range r.Plan {
		if i < r.Episodes {
			fmt.Fprintf(&b, "  %s\n", p)
		}
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "fault\tplanned\tapplied\thealed\tfailed\thow")
	for _, k := range r.Faults {
		how := k.Mechanism
		if k.Missing != "" {
			how = "unavailable: " + k.Missing
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", k.Kind, k.Planned, k.Applied, k.Healed, k.Failed, how)
	}
	tw.Flush()
	o := r.Ops
	kinds := make([]string, 0, len(o.ByKind))
	for k := range o.ByKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s %d", k, o.ByKind[k])
	}
	fmt.Fprintf(&b, "operations: %d (%s)\n", o.Total, strings.Join(parts, ", "))
	fmt.Fprintf(&b, "  ok %d, precondition failed %d, no such key %d, indeterminate writes %d, failed reads %d, not sent %d; final reads %d\n",
		o.OK, o.PreconditionFailed, o.NoSuchKey, o.Indeterminate, o.FailedReads, o.NotSent, o.FinalReads)
	fmt.Fprintf(&b, "lost objects: %d\n", len(r.Lost))
	for _, f := range r.Lost {
		fmt.Fprintf(&b, "  %s\n", f)
	}
	fmt.Fprintf(&b, "corrupted reads: %d\n", len(r.Corrupted))
	for _, f := range r.Corrupted {
		fmt.Fprintf(&b, "  %s\n", f)
	}
	fmt.Fprintf(&b, "linearizability: %s\n", r.Verdict)
	if r.Visualization != "" {
		fmt.Fprintf(&b, "  visualization: %s\n", r.Visualization)
	}
	if rp := r.Repair; rp.Measured != 0 || rp.Predicted != 0 {
		fmt.Fprintf(&b, "repair: measured %v, predicted %v", rp.Measured.Round(time.Millisecond), rp.Predicted.Round(time.Millisecond))
		if rp.Note != "" {
			fmt.Fprintf(&b, " (%s)", rp.Note)
		}
		b.WriteByte('\n')
	} else if rp.Note != "" {
		fmt.Fprintf(&b, "repair: %s\n", rp.Note)
	}
	if len(r.Problems) > 0 {
		fmt.Fprintf(&b, "problems: %d\n", len(r.Problems))
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "  %s\n", p)
		}
	}
	if f := r.Failures(); len(f) > 0 {
		fmt.Fprintf(&b, "RESULT: FAIL (%s)\n", strings.Join(f, "; "))
	} else {
		fmt.Fprintf(&b, "RESULT: PASS\n")
	}
	return b.String()
}
