package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cairn-io/cairn/node/devcluster"
)

// Config configures a campaign. Zero values take the defaults noted.
type Config struct {
	Seed uint64
	// Episodes to run; when zero, as many as fit in Duration.
	Episodes int
	Duration time.Duration
	Binary   string // the cairn binary
	Dir      string // working directory: data, logs, report files
	Logf     func(format string, args ...any)

	Clients int           // default 4
	Keys    int           // default 12
	Hold    time.Duration // mean time a fault is held, default 10s
	Recover time.Duration // load without faults after each heal, default 5s
	// SecondFault is the chance of a second fault in an episode (default
	// 0.3; negative for never).
	SecondFault float64

	// Kinds, when set, limits the faults to these kinds (of those available).
	Kinds []Kind

	// Loopback forces 127.0.0.x addresses and process faults only.
	Loopback    bool
	NetnsPrefix string // default "cairn"
	NetnsSubnet string // default "10.77.0"

	// Settle is the wait after the last heal when WaitRepaired is nil
	// (default 10s).
	Settle time.Duration
	// FinalReadTimeout bounds the retries of the final reads (default
	// 60s for all keys together).
	FinalReadTimeout time.Duration
	// CheckTimeout bounds the linearizability check (default 5m).
	CheckTimeout time.Duration

	// WaitRepaired, when set, returns once the product has repaired the
	// damage of the campaign (removed drives, dead shards). It is called
	// after each episode that removed a drive and before the final check.
	WaitRepaired func(ctx context.Context) error
	// NoRepairHook keeps the campaign from asking the cluster's repairer
	// (Meta.HealStatus) when WaitRepaired is nil: it then waits Settle.
	NoRepairHook bool
	// PredictRepair, when set, is asked for the product's repair estimate
	// just before WaitRepaired.
	PredictRepair func(ctx context.Context) (time.Duration, error)
}

func (c *Config) withDefaults() Config {
	out := *c
	if out.Logf == nil {
		out.Logf = func(string, ...any) {}
	}
	if out.Hold == 0 {
		out.Hold = 10 * time.Second
	}
	if out.Recover == 0 {
		out.Recover = 5 * time.Second
	}
	if out.SecondFault == 0 {
		out.SecondFault = 0.3
	}
	if out.SecondFault < 0 {
		out.SecondFault = 0
	}
	if out.Settle == 0 {
		out.Settle = 10 * time.Second
	}
	if out.FinalReadTimeout == 0 {
		out.FinalReadTimeout = 60 * time.Second
	}
	if out.CheckTimeout == 0 {
		out.CheckTimeout = 5 * time.Minute
	}
	return out
}

// Validate reports a config that cannot run.
func (c *Config) Validate() error {
	switch {
	case c.Binary == "":
		return errors.New("chaos: Binary is required")
	case c.Dir == "":
		return errors.New("chaos: Dir is required")
	case c.Episodes <= 0 && c.Duration <= 0:
		return errors.New("chaos: set Episodes or Duration")
	}
	return nil
}

const (
	accessKey = "CAIRNCHAOSACCESSKEY1"
	secretKey = "cairn-chaos-secret-key-0123456789abcdefgh"
	masterKey = "Y2Fpcm4tZTJlLXRlc3QtbWFzdGVyLWtleS0zMmJ5dGU=" // base64 of 32 bytes
	bucket    = "chaos"
	// smallDriveSize is the tmpfs of the node whose drive DriveFull fills.
	smallDriveSize = "1g"
)

// Campaign is one run. Close undoes everything it set up, whatever state
// Run stopped in.
type Campaign struct {
	cfg     Config
	net     *Netns // nil on loopback
	mode    string
	note    string
	cluster *Cluster
	lock    *os.File

	mu struct {
		sync.Mutex
		active []*Active
		mounts []string
		closed bool
	}
}

// New checks cfg; Run sets the campaign up.
func New(cfg Config) (*Campaign, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Campaign{cfg: cfg.withDefaults()}, nil
}

func (c *Campaign) logf(format string, args ...any) { c.cfg.Logf(format, args...) }

// Run sets up the network and the cluster, runs the episodes under load,
// heals, settles, reads every key back and checks the history. The error
// reports a harness failure; what the campaign found is in the Report.
func (c *Campaign) Run(ctx context.Context) (*Report, error) {
	start := time.Now()
	cfg := c.cfg
	rep := &Report{Seed: cfg.Seed}
	c.logf("chaos: seed %d (rerun with CHAOS_SEED=%d)", cfg.Seed, cfg.Seed)
	if err := c.lockHost(ctx); err != nil {
		return nil, err
	}
	caps, err := c.setupNetwork(ctx)
	if err != nil {
		return nil, err
	}
	rep.Mode, rep.ModeNote = c.mode, c.note
	cl, err := c.startCluster(ctx, &caps)
	if err != nil {
		return nil, err
	}
	if cfg.WaitRepaired == nil && !cfg.NoRepairHook {
		// The product's own repairer says when the cluster is whole again.
		cfg.WaitRepaired = func(ctx context.Context) error { return cl.WaitHealed(ctx, 5*time.Minute) }
		cfg.PredictRepair = func(ctx context.Context) (time.Duration, error) { return cl.PredictHeal(ctx, time.Minute) }
		c.cfg.WaitRepaired, c.cfg.PredictRepair = cfg.WaitRepaired, cfg.PredictRepair
	}
	s3c := c.s3Client()
	if err := createBucket(ctx, s3c); err != nil {
		return nil, err
	}

	hist := NewHistory()
	wl := NewWorkload(WorkloadConfig{Bucket: bucket, Clients: cfg.Clients, Keys: cfg.Keys, Seed: cfg.Seed}, s3c, hist)
	inj := NewInjector(cl, c.net, caps, wl, c.logf)
	episodes := cfg.Episodes
	if episodes <= 0 {
		episodes = int(cfg.Duration/(cfg.Hold+cfg.Recover)) + 1
	}
	small := -1
	for i, n := range cl.Names(RoleStorage) {
		if n == caps.SmallDrive {
			small = i
		}
	}
	kinds := inj.Kinds()
	if len(cfg.Kinds) > 0 {
		kinds = slices.DeleteFunc(kinds, func(k Kind) bool { return !slices.Contains(cfg.Kinds, k) })
	}
	plan, err := Plan(PlanConfig{
		Seed: cfg.Seed, Episodes: episodes, Kinds: kinds,
		StorageNodes: len(cl.Names(RoleStorage)), MetaVoters: len(cl.Names(RoleMeta)),
		FullDriveNode: small, Repair: cfg.WaitRepaired != nil, Hold: cfg.Hold, SecondFault: cfg.SecondFault,
	})
	if err != nil {
		return nil, err
	}
	for _, ep := range plan {
		rep.Plan = append(rep.Plan, ep.String())
	}

	// The workload runs from here to the end of the episodes.
	wctx, stopWorkload := context.WithCancel(ctx)
	defer stopWorkload()
	wlDone := make(chan struct{})
	go func() {
		defer close(wlDone)
		wl.Run(wctx)
	}()
	stopLoad := func() {
		wl.Stop()
		select {
		case <-wlDone:
		case <-time.After(60 * time.Second):
			stopWorkload() // requests are bounded by their timeout anyway
			<-wlDone
		}
	}
	defer stopLoad()

	faultEnd := time.Time{}
	if cfg.Episodes <= 0 {
		faultEnd = time.Now().Add(cfg.Duration)
	}
	if !sleepCtx(ctx, cfg.Recover) {
		return nil, ctx.Err()
	}
	for _, ep := range plan {
		if !faultEnd.IsZero() && time.Now().After(faultEnd) {
			break
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if ok := c.episode(ctx, inj, ep, rep); !ok {
			break
		}
		rep.Episodes++
	}
	stopLoad()
	inj.Planned(plan[:rep.Episodes])
	rep.Plan = rep.Plan[:rep.Episodes]

	// Heal whatever is left, bring every process back, settle.
	c.healAll(ctx, inj, rep)
	if err := cl.StartAll(); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	if err := cl.WaitReady(rctx, accessKey, secretKey); err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("cluster not ready 120s after the last heal: %v", err))
	}
	cancel()
	if cfg.WaitRepaired != nil {
		c.waitRepaired(ctx, rep)
	} else {
		rep.Repair.Note = "no repair hook: waited a fixed settle period"
		c.logf("chaos: settling for %v", cfg.Settle)
		sleepCtx(ctx, cfg.Settle)
	}

	c.finalReads(ctx, s3c, hist)
	ops := hist.Ops()
	rep.Ops = CountOps(ops)
	rep.Lost, rep.Corrupted = CheckDurability(ops)
	if rep.Lost == nil {
		rep.Lost = []Finding{}
	}
	if rep.Corrupted == nil {
		rep.Corrupted = []Finding{}
	}
	viz := filepath.Join(cfg.Dir, "history.html")
	c.logf("chaos: checking linearizability of %d operations", len(ops))
	t0 := time.Now()
	rep.Verdict, err = CheckLinearizable(ops, cfg.CheckTimeout, viz)
	if err != nil {
		rep.Problems = append(rep.Problems, err.Error())
	}
	c.logf("chaos: %s (checked in %v)", rep.Verdict, time.Since(t0).Round(time.Millisecond))
	if rep.Verdict == NotLinearizable {
		rep.Visualization = viz
	}
	c.writeHistory(ops)
	rep.Faults = inj.Stats()
	rep.Wall = time.Since(start)
	return rep, nil
}

// startCluster lays the cluster out (on the small drive where it can be
// mounted), starts it and waits until it is ready.
func (c *Campaign) startCluster(ctx context.Context, caps *Capabilities) (*Cluster, error) {
	cl, err := NewCluster(ctx, ClusterConfig{
		Binary: c.cfg.Binary, Dir: filepath.Join(c.cfg.Dir, "cluster"), Net: c.net,
		Env: []string{"CAIRN_ACCESS_KEY=" + accessKey, "CAIRN_SECRET_KEY=" + secretKey, "CAIRN_MASTER_KEY=" + masterKey, "CAIRN_LOG_LEVEL=info"},
	})
	if err != nil {
		return nil, err
	}
	c.cluster = cl
	if c.net != nil || os.Geteuid() == 0 {
		caps.SmallDrive = c.mountSmallDrive(ctx, cl)
	}
	if c.net != nil {
		if err := c.net.CheckRoute(ctx, cl.IP("gateway")); err != nil {
			return nil, err
		}
	}
	if err := cl.StartAll(); err != nil {
		return nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	if err := cl.WaitReady(rctx, accessKey, secretKey); err != nil {
		return nil, fmt.Errorf("chaos: cluster not ready: %w", err)
	}
	return cl, nil
}

// episode applies, holds and heals one episode's faults; false means the
// cluster did not recover and no further faults should be injected.
func (c *Campaign) episode(ctx context.Context, inj *Injector, ep Episode, rep *Report) bool {
	rng := rand.New(rand.NewPCG(ep.Seed, uint64(ep.Index)))
	c.logf("chaos: %s", ep)
	removed := false
	for _, f := range ep.Faults {
		a, err := inj.Apply(ctx, f, rng)
		if err != nil {
			c.logf("chaos:   %v", err)
			continue
		}
		c.logf("chaos:   applied %s on %s %s", f.Kind, a.Target, a.Detail)
		c.mu.Lock()
		c.mu.active = append(c.mu.active, a)
		c.mu.Unlock()
		removed = removed || f.Kind == DriveRemove
	}
	sleepCtx(ctx, ep.Hold)
	c.healAll(ctx, inj, rep)
	// Wait for every process to be back and the cluster whole again before
	// the next faults: the plan's budget assumes this episode's are gone.
	rctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	err := c.cluster.WaitReady(rctx, accessKey, secretKey)
	cancel()
	if err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("episode %d: cluster not ready 90s after heal: %v", ep.Index+1, err))
		return false
	}
	if removed && c.cfg.WaitRepaired != nil {
		c.waitRepaired(ctx, rep)
	}
	sleepCtx(ctx, c.cfg.Recover)
	return true
}

// healAll heals the active faults, newest first.
func (c *Campaign) healAll(ctx context.Context, inj *Injector, rep *Report) {
	c.mu.Lock()
	active := c.mu.active
	c.mu.active = nil
	c.mu.Unlock()
	for i := len(active) - 1; i >= 0; i-- {
		if err := active[i].Heal(ctx, inj); err != nil {
			c.logf("chaos:   %v", err)
			if rep != nil {
				rep.Problems = append(rep.Problems, err.Error())
			}
		}
	}
	// Whatever a heal missed: every process runs and none is paused.
	for _, p := range c.cluster.Layout().Procs {
		if c.cluster.Paused(p.Name) {
			_ = c.cluster.Resume(p.Name)
		}
	}
	if err := c.cluster.StartAll(); err != nil && rep != nil {
		rep.Problems = append(rep.Problems, err.Error())
	}
}

func (c *Campaign) waitRepaired(ctx context.Context, rep *Report) {
	if c.cfg.PredictRepair != nil {
		if eta, err := c.cfg.PredictRepair(ctx); err == nil {
			rep.Repair.Predicted += eta
		} else {
			rep.Problems = append(rep.Problems, fmt.Sprintf("predict repair: %v", err))
		}
	}
	t0 := time.Now()
	if err := c.cfg.WaitRepaired(ctx); err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("wait for repair: %v", err))
	}
	rep.Repair.Measured += time.Since(t0)
}

// finalReads reads every key, round after round, until each has been read
// or FinalReadTimeout has passed: degraded reads reconstruct, a restarted
// node catches up.
func (c *Campaign) finalReads(ctx context.Context, cl *s3.Client, hist *History) {
	wl := NewWorkload(WorkloadConfig{Bucket: bucket, Keys: c.cfg.Keys}, cl, hist)
	reader := &client{w: wl, id: 0, known: map[string]known{}}
	pending := Keys(wl.cfg.Keys)
	deadline := time.Now().Add(c.cfg.FinalReadTimeout)
	for len(pending) > 0 && ctx.Err() == nil {
		var failed []string
		for _, key := range pending {
			op := Op{Kind: OpGet, Key: key, Final: true}
			rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			op.Call = hist.Now()
			reader.get(rctx, &op)
			cancel()
			hist.Add(op)
			if op.Outcome != OK || op.Corrupt != "" {
				failed = append(failed, key)
				if time.Now().After(deadline) {
					c.logf("chaos: final read of %s failed: %s %s", key, op.Err, op.Corrupt)
				}
			}
		}
		pending = failed
		if time.Now().After(deadline) {
			break
		}
		if len(pending) > 0 {
			sleepCtx(ctx, time.Second)
		}
	}
}

func (c *Campaign) writeHistory(ops []Op) {
	var b strings.Builder
	for _, o := range ops {
		b.WriteString(o.String())
		b.WriteByte('\n')
	}
	p := filepath.Join(c.cfg.Dir, "history.txt")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		c.logf("chaos: write history: %v", err)
	}
}

// s3Client is the SDK as applications configure it, except that it never
// retries (a retried conditional PUT would turn "applied" into 412) and
// leaves response checksums to the checker, which sees the raw bytes.
func (c *Campaign) s3Client() *s3.Client {
	base := devcluster.S3Client(c.cluster.Layout(), accessKey, secretKey)
	return s3.New(base.Options(), func(o *s3.Options) {
		o.Retryer = aws.NopRetryer{}
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
}

func createBucket(ctx context.Context, cl *s3.Client) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := cl.CreateBucket(rctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("chaos: create bucket: %w", err)
		}
		sleepCtx(ctx, time.Second)
	}
}

// lockHost keeps two campaigns on one machine from sharing the namespace
// names.
func (c *Campaign) lockHost(ctx context.Context) error {
	prefix := c.cfg.NetnsPrefix
	if prefix == "" {
		prefix = "cairn"
	}
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "cairn-chaos-"+prefix+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("chaos: lock: %w", err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			c.lock = f
			return nil
		}
		if time.Now().After(deadline) || !sleepCtx(ctx, time.Second) {
			f.Close()
			return fmt.Errorf("chaos: another campaign holds the lock of prefix %q: %w", prefix, err)
		}
	}
}

// setupNetwork lays out the namespaces, or explains why it runs on
// loopback, and probes what can be injected.
func (c *Campaign) setupNetwork(ctx context.Context) (Capabilities, error) {
	c.mode = "loopback"
	if c.cfg.Loopback {
		c.note = "asked for"
		return Capabilities{}, nil
	}
	script, err := FindScript()
	if err != nil {
		c.note = err.Error()
		c.logf("chaos: %v; running on loopback with process faults only", err)
		return Capabilities{}, nil
	}
	n, err := NewNetns(ctx, script, c.cfg.NetnsPrefix, c.cfg.NetnsSubnet)
	if err == nil {
		err = n.Check(ctx)
	}
	if err != nil && !errors.Is(err, ErrNoNamespaces) {
		return Capabilities{}, err
	}
	if err != nil {
		c.note = err.Error()
		c.logf("chaos: %v; running on loopback with process faults only", err)
		return Capabilities{}, nil
	}
	// Leftovers of a campaign that died without cleaning up.
	if err := n.Down(ctx); err != nil {
		return Capabilities{}, err
	}
	c.net = n
	if err := n.Up(ctx, 11); err != nil {
		return Capabilities{}, err
	}
	c.mode = "netns"
	caps := Capabilities{Netns: true}
	if _, err := n.Exec(ctx, 1, "iptables", "-S"); err == nil {
		caps.Iptables = true
	}
	if _, err := n.Exec(ctx, 1, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"); err == nil {
		caps.Netem = true
		_, _ = n.Exec(ctx, 1, "tc", "qdisc", "del", "dev", "lo", "root")
	}
	if _, err := n.Exec(ctx, 1, "tc", "qdisc", "add", "dev", "lo", "root", "tbf", "rate", "1gbit", "burst", "64kb", "latency", "10ms"); err == nil {
		caps.TBF = true
		_, _ = n.Exec(ctx, 1, "tc", "qdisc", "del", "dev", "lo", "root")
	}
	c.logf("chaos: network namespaces up on %s (iptables %v, netem %v, tbf %v)", n.Bridge(), caps.Iptables, caps.Netem, caps.TBF)
	return caps, nil
}

// mountSmallDrive puts the last storage node's drive on a small tmpfs
// (source "<prefix>-chaos", which the script's down also unmounts), so a
// ballast file can fill it. It returns the node's name, or "" when it
// cannot.
func (c *Campaign) mountSmallDrive(ctx context.Context, cl *Cluster) string {
	names := cl.Names(RoleStorage)
	name := names[len(names)-1]
	dir := cl.DriveDir(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.logf("chaos: small drive: %v", err)
		return ""
	}
	prefix := c.cfg.NetnsPrefix
	if prefix == "" {
		prefix = "cairn"
	}
	mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(mctx, "mount", "-t", "tmpfs", "-o", "size="+smallDriveSize, prefix+"-chaos", dir).CombinedOutput(); err != nil {
		c.logf("chaos: no small drive (drive-full unavailable): mount tmpfs: %v: %s", err, strings.TrimSpace(string(out)))
		return ""
	}
	c.mu.Lock()
	c.mu.mounts = append(c.mu.mounts, dir)
	c.mu.Unlock()
	return name
}

// LogTails returns the end of every process log, to explain a failure.
func (c *Campaign) LogTails(lines int) string {
	if c.cluster == nil {
		return ""
	}
	return c.cluster.LogTails(lines)
}

// Close stops every process, unmounts the small drive and removes the
// namespaces (their firewall rules and qdiscs go with them) and the bridge.
// It is idempotent and safe after a failed Run.
func (c *Campaign) Close() error {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return nil
	}
	c.mu.closed = true
	mounts := c.mu.mounts
	c.mu.Unlock()
	var errs []error
	if c.cluster != nil {
		if err := c.cluster.StopAll(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, m := range mounts {
		if out, err := exec.CommandContext(ctx, "umount", "-l", m).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("chaos: umount %s: %w: %s", m, err, strings.TrimSpace(string(out))))
		}
	}
	if c.net != nil {
		if err := c.net.Down(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if c.lock != nil {
		_ = syscall.Flock(int(c.lock.Fd()), syscall.LOCK_UN)
		c.lock.Close()
	}
	return errors.Join(errs...)
}

// sleepCtx sleeps d, or less when ctx ends; it reports whether ctx is live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
