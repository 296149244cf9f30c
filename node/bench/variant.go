package bench

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// Variant is one cluster set-up of a comparison: the same matrix runs once
// per variant, each on a fresh cluster, one after another in one run, so
// that a lever's before and after are measured on the same machine in the
// same conditions.
type Variant struct {
	Name string `json:"name"`
	// Binary is the cairn binary the cluster runs; "" means the default
	// (the running binary). A binary built from an earlier commit measures
	// a change in code that has no switch.
	Binary string `json:"binary,omitempty"`
	// Env is set for every process of the cluster: server flags in their
	// environment form (CAIRN_INLINE_MAX_BYTES=0).
	Env []string `json:"env,omitempty"`
}

// ParseVariant reads "NAME: TOKEN...", where each token is a server flag
// (--inline-max-bytes=0, or --no-bucket-cache for true), an environment
// assignment (CAIRN_INLINE_MAX_BYTES=0) or binary=PATH. "NAME:" alone is
// the cluster as configured.
func ParseVariant(s string) (Variant, error) {
	name, spec, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return Variant{}, fmt.Errorf("bench: variant %q: want NAME: [--flag=value|CAIRN_VAR=value|binary=PATH]...", s)
	}
	if strings.ContainsAny(name, " \t/") {
		return Variant{}, fmt.Errorf("bench: variant name %q: no spaces or slashes", name)
	}
	v := Variant{Name: name}
	for _, tok := range strings.Fields(spec) {
		switch {
		case strings.HasPrefix(tok, "binary="):
			path := strings.TrimPrefix(tok, "binary=")
			if path == "" {
				return Variant{}, fmt.Errorf("bench: variant %s: empty binary path", name)
			}
			abs, err := filepath.Abs(path)
			if err != nil {
				return Variant{}, fmt.Errorf("bench: variant %s: %w", name, err)
			}
			v.Binary = abs
		case strings.HasPrefix(tok, "--"):
			flag, val, hasVal := strings.Cut(strings.TrimPrefix(tok, "--"), "=")
			if flag == "" || strings.HasPrefix(flag, "-") {
				return Variant{}, fmt.Errorf("bench: variant %s: bad flag %q", name, tok)
			}
			if !hasVal {
				val = "true"
			}
			v.Env = append(v.Env, flagEnv(flag)+"="+val)
		case strings.HasPrefix(tok, "CAIRN_") && strings.Contains(tok, "="):
			v.Env = append(v.Env, tok)
		default:
			return Variant{}, fmt.Errorf("bench: variant %s: token %q is neither --flag[=value], CAIRN_VAR=value nor binary=PATH", name, tok)
		}
	}
	return v, nil
}

// flagEnv is the environment variable a server flag is read from.
func flagEnv(flag string) string {
	return "CAIRN_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// CheckVariants reports duplicate names and binaries that cannot run.
func CheckVariants(vs []Variant) error {
	seen := map[string]bool{}
	for _, v := range vs {
		if seen[v.Name] {
			return fmt.Errorf("bench: variant %s given twice", v.Name)
		}
		seen[v.Name] = true
		if v.Binary == "" {
			continue
		}
		fi, err := os.Stat(v.Binary)
		if err != nil {
			return fmt.Errorf("bench: variant %s: %w", v.Name, err)
		}
		if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("bench: variant %s: %s is not an executable file", v.Name, v.Binary)
		}
	}
	return nil
}

// VariantReport is one variant's outcome.
type VariantReport struct {
	Variant
	Report Report `json:"report"`
}

// WriteComparison prints, per workload, one line per variant with its
// throughput, p99, CPU per GiB and share of its CPU ceiling, and the ratios
// to the first variant (the baseline): the before-and-after table of a
// lever.
func WriteComparison(w io.Writer, reps []VariantReport) error {
	if len(reps) == 0 {
		return errors.New("bench: nothing to compare")
	}
	var order []string
	seen := map[string]bool{}
	for _, r := range reps {
		for _, res := range r.Report.Results {
			if !seen[res.Workload] {
				seen[res.Workload] = true
				order = append(order, res.Workload)
			}
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "workload\tvariant\tMiB/s\tobj/s\tp99\tgateway\tstorage\tmeta\tCPU-s/GiB\t%% of ceiling\tthroughput\tCPU/GiB\t\n")
	for _, wl := range order {
		base, hasBase := findResult(reps[0].Report, wl)
		for i, r := range reps {
			label := ""
			if i == 0 {
				label = wl
			}
			res, ok := findResult(r.Report, wl)
			if !ok || res.Failed != "" {
				fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\t\t\t\n", label, r.Name)
				continue
			}
			thr, cpu := "", ""
			if i > 0 && hasBase && base.Failed == "" {
				thr = ratio(res.MiBPerSec, base.MiBPerSec)
				if res.Bytes > 0 && base.Bytes > 0 {
					cpu = ratio(res.CPUPerGiB.Total(), base.CPUPerGiB.Total())
				}
			}
			ofCeiling := "-"
			if c, ok := res.OfCeiling(); ok {
				ofCeiling = fmtPercent(c)
			}
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%s\t%s\t\n", label, r.Name,
				res.MiBPerSec, res.ObjPerSec, fmtMillis(res.P99Millis),
				res.CPUPerGiB.Gateway, res.CPUPerGiB.Storage, res.CPUPerGiB.Meta, res.CPUPerGiB.Total(), ofCeiling, thr, cpu)
		}
	}
	for i, r := range reps {
		if r.Report.Idle == nil {
			continue
		}
		label := ""
		if i == 0 {
			label = "idle cores"
		}
		fmt.Fprintf(tw, "%s\t%s\t\t\t\t%.3f\t%.3f\t%.3f\t%.3f\t\t\t\t\n", label, r.Name,
			r.Report.Idle.Cores.Gateway, r.Report.Idle.Cores.Storage, r.Report.Idle.Cores.Meta, r.Report.Idle.Cores.Total())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "Ratios are to %s, the first variant. Variants ran one after another, each on a fresh cluster.\n"+
		"CPU-s/GiB: all roles, client excluded; %% of ceiling: of the MiB/s all cores would reach busy with the roles' and\n"+
		"the client's work (see the tables above).\n", reps[0].Name)
	return err
}

func findResult(r Report, workload string) (Result, bool) {
	for _, res := range r.Results {
		if res.Workload == workload {
			return res, true
		}
	}
	return Result{}, false
}

func ratio(v, base float64) string {
	if base <= 0 {
		return "-"
	}
	return fmt.Sprintf("×%.2f", v/base)
}
