package chaos

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Capabilities say which faults this machine can inject, and how.
type Capabilities struct {
	Netns      bool   // every process in its own namespace
	Iptables   bool   // iptables works inside the namespaces
	Netem      bool   // the netem qdisc exists
	TBF        bool   // the tbf qdisc exists (a throttled link when netem does not)
	SmallDrive string // the storage node whose drive is a small tmpfs, or ""
}

// Mechanisms says how each available kind is injected, and why the others
// are not.
func (c Capabilities) Mechanisms() (avail map[Kind]string, unavail map[Kind]string) {
	avail, unavail = map[Kind]string{}, map[Kind]string{}
	set := func(k Kind, ok bool, how, why string) {
		if ok {
			avail[k] = how
		} else {
			unavail[k] = why
		}
	}
	set(KillStorage, true, "SIGKILL, restart on heal", "")
	set(KillMeta, true, "SIGKILL, restart on heal", "")
	set(KillMetaLeader, true, "SIGKILL of the leader, restart on heal", "")
	set(KillGateway, true, "SIGKILL while a multi-stripe PUT is in flight, restart on heal", "")
	set(PauseStorage, true, "SIGSTOP, SIGCONT on heal", "")
	set(PauseMeta, true, "SIGSTOP, SIGCONT on heal", "")
	set(PauseGateway, true, "SIGSTOP, SIGCONT on heal", "")
	set(BitFlip, true, "flip one bit in the data area of 8 of the 32 newest shard files, flipped back on heal", "")
	set(DriveRemove, true, "remove the drive directory; heal restarts the node on a fresh drive (shards lost until repaired)", "")
	noNS := "no network namespaces (loopback)"
	set(PartitionMeta, c.Netns, "the voter's link down", noNS)
	switch {
	case !c.Netns:
		unavail[PartitionStorage], unavail[Loss] = noNS, noNS
	case !c.Iptables:
		unavail[PartitionStorage] = "iptables unavailable"
		set(Loss, c.Netem, "netem loss on the node's link", "neither netem nor iptables available")
	default:
		set(PartitionStorage, true, "iptables DROP to and from the gateway inside the node's namespace", "")
		if c.Netem {
			avail[Loss] = "netem loss on the node's link"
		} else {
			avail[Loss] = "iptables statistic DROP inside the node's namespace (netem unavailable)"
		}
	}
	switch {
	case !c.Netns:
		unavail[Delay] = noNS
	case c.Netem:
		avail[Delay] = "netem delay on both ends of the node's link"
	case c.TBF:
		avail[Delay] = "tbf throttle on both ends of the node's link (netem unavailable: bandwidth, not latency)"
	default:
		unavail[Delay] = "neither netem nor tbf available"
	}
	set(DriveFull, c.SmallDrive != "", "fill the node's tmpfs drive with a ballast file, removed on heal", "no small drive (needs root to mount a tmpfs)")
	return avail, unavail
}

// KindStats counts one kind of fault.
type KindStats struct {
	Kind      Kind   `json:"kind"`
	Planned   int    `json:"planned"`
	Applied   int    `json:"applied"`
	Healed    int    `json:"healed"`
	Failed    int    `json:"failed"` // could not be applied (e.g. no shard files yet)
	Mechanism string `json:"mechanism,omitempty"`
	Missing   string `json:"unavailable,omitempty"` // why the kind is not available here
}

// largePuts tells the injector when a gateway kill lands mid-PUT.
type largePuts interface{ InFlightLargePuts() int }

// Injector applies and heals faults on a Cluster.
type Injector struct {
	cl   *Cluster
	net  *Netns // nil on loopback
	caps Capabilities
	puts largePuts
	logf func(string, ...any)

	mu    sync.Mutex
	stats map[Kind]*KindStats
}

// NewInjector prepares the faults that caps allows.
func NewInjector(cl *Cluster, net *Netns, caps Capabilities, puts largePuts, logf func(string, ...any)) *Injector {
	in := &Injector{cl: cl, net: net, caps: caps, puts: puts, logf: logf, stats: map[Kind]*KindStats{}}
	avail, unavail := caps.Mechanisms()
	for _, k := range AllKinds {
		in.stats[k] = &KindStats{Kind: k, Mechanism: avail[k], Missing: unavail[k]}
	}
	return in
}

// Kinds lists the available kinds.
func (in *Injector) Kinds() []Kind {
	var out []Kind
	for _, k := range AllKinds {
		if in.stats[k].Missing == "" {
			out = append(out, k)
		}
	}
	return out
}

// Stats returns the counters, in AllKinds order.
func (in *Injector) Stats() []KindStats {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]KindStats, 0, len(AllKinds))
	for _, k := range AllKinds {
		out = append(out, *in.stats[k])
	}
	return out
}

func (in *Injector) count(k Kind, f func(*KindStats)) {
	in.mu.Lock()
	f(in.stats[k])
	in.mu.Unlock()
}

// Planned counts the faults of a plan.
func (in *Injector) Planned(plan []Episode) {
	for _, ep := range plan {
		for _, f := range ep.Faults {
			in.count(f.Kind, func(s *KindStats) { s.Planned++ })
		}
	}
}

// Active is an applied fault; Heal undoes it.
type Active struct {
	Spec   FaultSpec
	Target string // the process it hit
	Detail string
	heal   func(ctx context.Context) error
}

// Heal undoes the fault.
func (a *Active) Heal(ctx context.Context, in *Injector) error {
	err := a.heal(ctx)
	if err == nil {
		in.count(a.Spec.Kind, func(s *KindStats) { s.Healed++ })
	}
	if err != nil {
		return fmt.Errorf("chaos: heal %s on %s: %w", a.Spec.Kind, a.Target, err)
	}
	return nil
}

// Apply injects one fault; rng drives the choices made now (shard files,
// loss rates).
func (in *Injector) Apply(ctx context.Context, spec FaultSpec, rng *rand.Rand) (*Active, error) {
	a, err := in.apply(ctx, spec, rng)
	if err != nil {
		in.count(spec.Kind, func(s *KindStats) { s.Failed++ })
		return nil, fmt.Errorf("chaos: apply %v: %w", spec, err)
	}
	in.count(spec.Kind, func(s *KindStats) { s.Applied++ })
	return a, nil
}

func (in *Injector) target(ctx context.Context, spec FaultSpec) (string, error) {
	if spec.Node == LeaderNode {
		return in.cl.WaitLeader(ctx, 20*time.Second)
	}
	names := in.cl.Names(spec.Role)
	if spec.Node < 0 || spec.Node >= len(names) {
		return "", fmt.Errorf("no %s node %d", spec.Role, spec.Node)
	}
	return names[spec.Node], nil
}

func (in *Injector) apply(ctx context.Context, spec FaultSpec, rng *rand.Rand) (*Active, error) {
	if in.stats[spec.Kind] == nil || in.stats[spec.Kind].Missing != "" {
		return nil, errors.New("kind not available here")
	}
	name, err := in.target(ctx, spec)
	if err != nil {
		return nil, err
	}
	a := &Active{Spec: spec, Target: name}
	cl := in.cl
	restart := func(ctx context.Context) error { return cl.Start(name) }
	switch spec.Kind {
	case KillStorage, KillMeta, KillMetaLeader:
		a.heal = restart
		return a, cl.Kill(ctx, name)
	case KillGateway:
		// Wait (bounded) for a PUT that spans stripes, to kill mid-body.
		deadline := time.Now().Add(5 * time.Second)
		for in.puts != nil && in.puts.InFlightLargePuts() == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if in.puts != nil {
			a.Detail = fmt.Sprintf("%d multi-stripe PUTs in flight", in.puts.InFlightLargePuts())
		}
		a.heal = restart
		return a, cl.Kill(ctx, name)
	case PauseStorage, PauseMeta, PauseGateway:
		a.heal = func(context.Context) error { return cl.Resume(name) }
		return a, cl.Pause(name)
	case PartitionMeta:
		host := cl.Host(name)
		a.heal = func(ctx context.Context) error {
			_, err := in.net.Exec(ctx, host, "ip", "link", "set", "eth0", "up")
			return err
		}
		_, err := in.net.Exec(ctx, host, "ip", "link", "set", "eth0", "down")
		return a, err
	case PartitionStorage:
		gw := cl.IP("gateway")
		rules := [][]string{{"INPUT", "-s", gw, "-j", "DROP"}, {"OUTPUT", "-d", gw, "-j", "DROP"}}
		return a, in.iptables(ctx, a, cl.Host(name), rules)
	case Loss:
		pct := 5 + rng.IntN(16)
		a.Detail = fmt.Sprintf("%d%% loss", pct)
		if in.caps.Netem {
			return a, in.qdisc(ctx, a, name, "netem", "loss", fmt.Sprintf("%d%%", pct))
		}
		p := fmt.Sprintf("%.2f", float64(pct)/100)
		rules := [][]string{
			{"INPUT", "-i", "eth0", "-m", "statistic", "--mode", "random", "--probability", p, "-j", "DROP"},
			{"OUTPUT", "-o", "eth0", "-m", "statistic", "--mode", "random", "--probability", p, "-j", "DROP"},
		}
		return a, in.iptables(ctx, a, cl.Host(name), rules)
	case Delay:
		if in.caps.Netem {
			d := 20 + rng.IntN(180)
			a.Detail = fmt.Sprintf("%dms ± %dms", d, d/4)
			return a, in.qdisc(ctx, a, name, "netem", "delay", fmt.Sprintf("%dms", d), fmt.Sprintf("%dms", d/4))
		}
		mbit := 4 + rng.IntN(29)
		a.Detail = fmt.Sprintf("throttled to %d Mbit/s", mbit)
		return a, in.qdisc(ctx, a, name, "tbf", "rate", fmt.Sprintf("%dmbit", mbit), "burst", "64kb", "latency", "400ms")
	case BitFlip:
		return a, in.bitflip(a, name, rng)
	case DriveFull:
		return a, in.fill(a, name)
	case DriveRemove:
		dir := cl.DriveDir(name)
		a.Detail = "drive directory removed"
		a.heal = func(ctx context.Context) error {
			if err := cl.Kill(ctx, name); err != nil {
				return err
			}
			return cl.Start(name)
		}
		return a, removeDrive(dir)
	}
	return nil, errors.New("unknown kind")
}

// iptables adds rules inside a host's namespace; heal deletes them. The
// namespace's tables go with the namespace, so nothing outlives Close.
func (in *Injector) iptables(ctx context.Context, a *Active, host int, rules [][]string) error {
	var added [][]string
	a.heal = func(ctx context.Context) error {
		var errs []error
		for _, r := range added {
			if _, err := in.net.Exec(ctx, host, append([]string{"iptables", "-D"}, r...)...); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	for _, r := range rules {
		if _, err := in.net.Exec(ctx, host, append([]string{"iptables", "-I"}, r...)...); err != nil {
			_ = a.heal(ctx)
			return err
		}
		added = append(added, r)
	}
	return nil
}

// qdisc puts a root qdisc on both ends of a host's link: eth0 inside its
// namespace (what it sends) and its veth on the bridge (what it receives).
func (in *Injector) qdisc(ctx context.Context, a *Active, name string, args ...string) error {
	host := in.cl.Host(name)
	veth, err := in.net.Veth(ctx, host)
	if err != nil {
		return err
	}
	type end struct {
		inNS bool
		dev  string
	}
	var added []end
	run := func(ctx context.Context, e end, a ...string) error {
		a = append([]string{"qdisc"}, a...)
		if e.inNS {
			_, err := in.net.Exec(ctx, host, append([]string{"tc"}, a...)...)
			return err
		}
		return runCmd(ctx, "tc", a...)
	}
	a.heal = func(ctx context.Context) error {
		var errs []error
		for _, e := range added {
			errs = append(errs, run(ctx, e, "del", "dev", e.dev, "root"))
		}
		return errors.Join(errs...)
	}
	for _, e := range []end{{true, "eth0"}, {false, veth}} {
		if err := run(ctx, e, append([]string{"add", "dev", e.dev, "root"}, args...)...); err != nil {
			_ = a.heal(ctx)
			return err
		}
		added = append(added, e)
	}
	return nil
}

type flipped struct {
	path     string
	off      int64
	was, now byte
}

// bitflip flips one bit in the data area (never the header) of up to 8
// shard files; heal flips back each byte that still holds the flipped
// value (a repaired or rewritten shard is left alone).
func (in *Injector) bitflip(a *Active, name string, rng *rand.Rand) error {
	root := filepath.Join(in.cl.DriveDir(name), "shards")
	type shard struct {
		path  string
		mtime time.Time
	}
	var shards []shard
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				shards = append(shards, shard{p, fi.ModTime()})
			}
		}
		return nil
	})
	// The newest shards most likely belong to current values, which the
	// clients read: draw from the 32 newest.
	slices.SortFunc(shards, func(a, b shard) int {
		if c := b.mtime.Compare(a.mtime); c != 0 {
			return c
		}
		return strings.Compare(a.path, b.path)
	})
	shards = shards[:min(len(shards), 32)]
	files := make([]string, len(shards))
	for i, s := range shards {
		files[i] = s.path
	}
	rng.Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
	var done []flipped
	a.heal = func(context.Context) error {
		var errs []error
		for _, f := range done {
			if err := unflip(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	for _, p := range files {
		if len(done) == 8 {
			break
		}
		f, err := flip(p, rng)
		if err != nil {
			continue // gone (garbage-collected) or too small
		}
		done = append(done, f)
	}
	if len(done) == 0 {
		return fmt.Errorf("no shard file to flip among %d", len(files))
	}
	a.Detail = fmt.Sprintf("%d shard files", len(done))
	return nil
}

// shardHeader is the bitrot header: 16 bytes, block size at offset 8.
const shardHeader = 16

func flip(path string, rng *rand.Rand) (flipped, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return flipped{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return flipped{}, err
	}
	var hdr [shardHeader]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return flipped{}, err
	}
	block := int64(binary.LittleEndian.Uint32(hdr[8:12]))
	data := fi.Size() - shardHeader
	if block <= 0 || data <= 4 {
		return flipped{}, errors.New("no data area")
	}
	frame := block + 4 // a block and its CRC32C
	blocks := (data + frame - 1) / frame
	b := rng.Int64N(blocks)
	blen := min(block, data-b*frame-4)
	if blen <= 0 {
		return flipped{}, errors.New("empty last block")
	}
	off := shardHeader + b*frame + rng.Int64N(blen)
	var one [1]byte
	if _, err := f.ReadAt(one[:], off); err != nil {
		return flipped{}, err
	}
	fl := flipped{path: path, off: off, was: one[0], now: one[0] ^ byte(1<<rng.IntN(8))}
	if _, err := f.WriteAt([]byte{fl.now}, off); err != nil {
		return flipped{}, err
	}
	return fl, nil
}

func unflip(fl flipped) error {
	f, err := os.OpenFile(fl.path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var one [1]byte
	if _, err := f.ReadAt(one[:], fl.off); err != nil {
		return err
	}
	if one[0] != fl.now {
		return nil
	}
	_, err = f.WriteAt([]byte{fl.was}, fl.off)
	return err
}

const ballastName = "chaos-ballast"

// fill allocates the free space of the node's small drive.
func (in *Injector) fill(a *Active, name string) error {
	if name != in.caps.SmallDrive {
		return fmt.Errorf("%s has no small drive", name)
	}
	dir := in.cl.DriveDir(name)
	path := filepath.Join(dir, ballastName)
	a.heal = func(context.Context) error {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	// Allocate in shrinking chunks until the drive refuses even 4 KiB.
	var size int64
	for _, chunk := range []int64{64 << 20, 1 << 20, 4 << 10} {
		for {
			err := syscall.Fallocate(int(f.Fd()), 0, size, chunk)
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			if err != nil {
				_ = a.heal(context.Background())
				return fmt.Errorf("fallocate %d bytes at %d: %w", chunk, size, err)
			}
			size += chunk
		}
	}
	a.Detail = fmt.Sprintf("%d MiB ballast", size>>20)
	return nil
}

func runCmd(ctx context.Context, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// removeDrive makes a drive directory vanish at once, as a failed mount
// does: it is renamed aside (atomic, whatever the node is writing into it)
// and then deleted. A plain RemoveAll races with the node creating files.
func removeDrive(dir string) error {
	gone := dir + ".removed"
	if err := os.RemoveAll(gone); err != nil {
		return fmt.Errorf("chaos: clear %s: %w", gone, err)
	}
	if err := os.Rename(dir, gone); err != nil {
		return fmt.Errorf("chaos: remove drive: %w", err)
	}
	// The node may still hold files open in it; what it writes there now
	// is lost with the drive, as on real hardware.
	return os.RemoveAll(gone)
}
