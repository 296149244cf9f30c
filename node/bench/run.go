package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cairn-io/cairn/node/devcluster"
)

const (
	readyTimeout = 90 * time.Second
	stopTimeout  = 30 * time.Second
	// warpSlack covers warp's own start delay (3 s), listing the objects
	// of a GET run, and its exit, beyond the measured duration.
	warpSlack = 2 * time.Minute
	// seedConcurrency uploads the objects GET workloads read.
	seedConcurrency = 8
)

// run is the state of one benchmark run.
type run struct {
	cfg       Config
	layout    *devcluster.Layout
	cl        *devcluster.Cluster
	accessKey string
	secretKey string
	s3        *s3.Client
	warp      warpRunner
	sampler   *sampler
	seeded    map[string]bool
	// clientPid is the PID of the warp process under way, 0 between
	// workloads; the sampler reads it through procs.
	clientPid atomic.Int64
}

// clientName names the client's series in the history.
const clientName = "warp"

// Run starts a fresh local cluster (3 meta, 6 storage, 1 gateway, 4+2),
// measures its idle CPU, runs warp for each workload, stops the cluster and
// returns the figures. A workload that fails is reported as failed and the
// next one runs; a cluster that does not come back after a fault ends the
// run with the figures so far.
func Run(ctx context.Context, cfg Config) (rep Report, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	start := time.Now()
	rep = Report{WarpVersion: WarpVersion, Duration: cfg.Duration.String(), SampleEvery: cfg.SampleEvery.String()}

	temp := cfg.Dir == ""
	if temp {
		if cfg.Dir, err = os.MkdirTemp("", "cairn-bench-"); err != nil {
			return rep, fmt.Errorf("bench: work dir: %w", err)
		}
	} else if _, err := os.Stat(filepath.Join(cfg.Dir, "cluster", "cluster.json")); err == nil {
		return rep, fmt.Errorf("bench: %s already holds a cluster; give an empty directory", cfg.Dir)
	}
	failed := false
	defer func() {
		if temp && !cfg.Keep && !failed && err == nil {
			_ = os.RemoveAll(cfg.Dir)
		} else {
			rep.KeptDirectory = cfg.Dir
		}
		rep.WallSeconds = time.Since(start).Seconds()
	}()

	r, err := newRun(cfg)
	if err != nil {
		return rep, err
	}
	cfg.Logger.Info("bench: starting cluster", "dir", cfg.Dir)
	if err := r.cl.Start(); err != nil {
		_ = r.stop()
		return rep, err
	}
	defer func() {
		if serr := r.stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	if err := r.waitReady(ctx); err != nil {
		return rep, err
	}
	r.sampler.start()
	defer r.sampler.Close()

	if cfg.Idle > 0 {
		cfg.Logger.Info("bench: measuring idle CPU", "for", cfg.Idle)
		idle, err := r.measureIdle(ctx)
		if err != nil {
			return rep, err
		}
		rep.Idle = &idle
	}
	for _, w := range cfg.Workloads {
		cfg.Logger.Info("bench: workload", "name", w.Name, "op", w.Op, "size", w.Size, "clients", w.Clients, "fault", string(w.Fault))
		res, err := r.workload(ctx, w)
		if res.Failed != "" {
			failed = true
			cfg.Logger.Warn("bench: workload failed", "name", w.Name, "err", res.Failed)
		}
		rep.Results = append(rep.Results, res)
		if err != nil {
			return rep, err
		}
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	return rep, nil
}

func newRun(cfg Config) (*run, error) {
	dataDir := filepath.Join(cfg.Dir, "cluster")
	warpDir := filepath.Join(cfg.Dir, "warp")
	if err := os.MkdirAll(warpDir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	layout, err := devcluster.LoadOrCreate(devcluster.Spec{Dir: dataDir})
	if err != nil {
		return nil, err
	}
	keys, err := devcluster.LoadOrCreateKeys(layout.Dir)
	if err != nil {
		return nil, err
	}
	ak, sk := "BENCH"+randomHex(8), randomHex(20)
	cl, err := devcluster.New(layout, devcluster.Options{
		Binary:     cfg.Binary,
		Env:        append([]string{"CAIRN_ACCESS_KEY=" + ak, "CAIRN_SECRET_KEY=" + sk, "CAIRN_MASTER_KEY=" + keys.MasterKey}, cfg.Env...),
		GatewayEnv: keys.KMSEnv(),

		InsecureInternal: cfg.InsecureInternal,
		S3TLS:            cfg.S3TLS,
	})
	if err != nil {
		return nil, err
	}
	r := &run{
		cfg: cfg, layout: layout, cl: cl, accessKey: ak, secretKey: sk,
		s3:     cl.S3Client(ak, sk),
		warp:   warpRunner{bin: cfg.Warp, dir: warpDir, accessKey: ak, secretKey: sk, tls: cfg.S3TLS},
		seeded: map[string]bool{},
	}
	r.sampler = newSampler(r.procs, cfg.SampleEvery)
	return r, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// procs lists the cluster's processes with their current PIDs (0 while a
// process is down), and the client while it runs.
func (r *run) procs() []procRef {
	out := make([]procRef, 0, len(r.layout.Procs)+1)
	for _, p := range r.layout.Procs {
		out = append(out, procRef{Name: p.Name, Role: p.Roles[0], Pid: r.cl.Pid(p.Name)})
	}
	if pid := r.clientPid.Load(); pid != 0 {
		out = append(out, procRef{Name: clientName, Role: ClientRole, Pid: int(pid), Tree: true})
	}
	return out
}

// clientHooks follow the warp process in the sampler: sampled (with its
// descendants) while it runs, and a last sample at its exit, from its
// resource usage, so that warp's window (which ends shortly before warp
// does) is bracketed by samples.
func (r *run) clientHooks() warpHooks {
	return warpHooks{
		started: func(pid int) { r.clientPid.Store(int64(pid)) },
		exited: func(cpu float64) {
			pid := r.clientPid.Swap(0)
			r.sampler.record(procKey{Name: clientName, Role: ClientRole, Pid: int(pid)}, r.sampler.now(), procSample{CPUSeconds: cpu})
		},
	}
}

func (r *run) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := r.cl.WaitReady(ctx, r.accessKey, r.secretKey); err != nil {
		return fmt.Errorf("bench: cluster not ready (logs in %s): %w", r.cl.LogDir(), err)
	}
	return nil
}

func (r *run) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	return r.cl.Stop(ctx)
}

func (r *run) measureIdle(ctx context.Context) (Idle, error) {
	from := time.Now()
	select {
	case <-ctx.Done():
		return Idle{}, ctx.Err()
	case <-time.After(r.cfg.Idle):
	}
	to := time.Now()
	h, _ := r.sampler.snapshot()
	idle := Idle{Seconds: to.Sub(from).Seconds()}
	for _, role := range Roles {
		idle.Cores.set(role, cores(h.cpuSeconds(role, from, to), to.Sub(from)))
	}
	return idle, nil
}

// workload runs one row: seed (GET), inject the fault, run warp, lift the
// fault, and compute the figures over warp's window. The error is for a
// cluster that could not be brought back; a failure of the workload itself
// is in Result.Failed.
func (r *run) workload(ctx context.Context, w Workload) (Result, error) {
	res := Result{Workload: w.Name, Op: w.Op, Size: w.Size, Clients: w.Clients, Fault: w.Fault}
	bucket := "bench-" + w.Name
	if w.Op == OpGet {
		bucket = fmt.Sprintf("seed-%d-%d", w.Size, w.Objects)
		if err := r.seed(ctx, bucket, w.Size, w.Objects); err != nil {
			res.Failed = err.Error()
			return res, nil
		}
	}
	out, runErr, restoreErr := r.underFault(ctx, w.Fault, func() ([]byte, error) {
		wctx, cancel := context.WithTimeout(ctx, r.cfg.Duration+warpSlack)
		defer cancel()
		benchdata := filepath.Join(r.warp.dir, w.Name)
		return r.warp.run(wctx, warpArgs(w, r.layout.S3Addr(), bucket, r.cfg.Duration, benchdata), r.clientHooks())
	})
	if runErr != nil {
		res.Failed = runErr.Error()
		return res, restoreErr
	}
	wr, err := parseWarp(out, w.Op)
	if err != nil {
		res.Failed = err.Error()
		return res, restoreErr
	}
	h, m := r.sampler.snapshot()
	fillResult(&res, wr, h, m)
	return res, restoreErr
}

// fillResult puts warp's figures, and the processes' and the machine's
// figures over warp's window, into res.
func fillResult(res *Result, wr warpResult, h history, m machineHistory) {
	res.MiBPerSec = wr.BytesPerSec / mib
	res.ObjPerSec = wr.ObjPerSec
	res.P50Millis = float64(wr.P50) / float64(time.Millisecond)
	res.P99Millis = float64(wr.P99) / float64(time.Millisecond)
	res.Requests, res.Errors, res.FirstErrors = wr.Requests, wr.Errors, wr.FirstErrors
	res.WindowSeconds = wr.End.Sub(wr.Start).Seconds()
	res.Bytes = wr.Bytes
	for _, role := range Roles {
		cpu := h.cpuSeconds(role, wr.Start, wr.End)
		res.CPUSeconds.set(role, cpu)
		if v, ok := cpuPerGiB(cpu, wr.Bytes); ok {
			res.CPUPerGiB.set(role, v)
		}
		res.PeakRSS.set(role, float64(h.peakRSS(role, wr.Start, wr.End)))
	}
	res.ClientCPUSeconds = h.cpuSeconds(ClientRole, wr.Start, wr.End)
	if v, ok := cpuPerGiB(res.ClientCPUSeconds, wr.Bytes); ok {
		res.ClientCPUPerGiB = v
	}
	if mach, ok := m.over(wr.Start, wr.End); ok {
		res.Machine = &mach
		if wr.Bytes > 0 {
			if c, ok := cpuCeiling(mach.Cores, res.CPUPerGiB.Total()+res.ClientCPUPerGiB); ok {
				res.CPUCeilingMiBPerSec = c
			}
		}
	}
}

// underFault applies the fault to the first two storage nodes, runs fn,
// and lifts the fault whatever fn did (see applyFault).
func (r *run) underFault(ctx context.Context, f Fault, fn func() ([]byte, error)) (out []byte, runErr, restoreErr error) {
	victims := r.layout.Names("storage")
	if len(victims) > 2 {
		victims = victims[:2]
	}
	return applyFault(ctx, r.cl, r.waitReady, f, victims, fn)
}

// faultTarget is what a fault is done to: the processes of a local
// cluster (devcluster.Cluster).
type faultTarget interface {
	Kill(name string) error
	StartProc(name string) error
	Signal(name string, sig syscall.Signal) error
}

// applyFault applies f to victims, runs fn, and lifts the fault whatever fn
// did: frozen nodes are always resumed (also when freezing the second one
// failed, or fn failed) and killed nodes restarted, then ready is waited
// for. restoreErr is an error lifting the fault or waiting for the
// cluster.
func applyFault(ctx context.Context, t faultTarget, ready func(context.Context) error, f Fault, victims []string, fn func() ([]byte, error)) (out []byte, runErr, restoreErr error) {
	switch f {
	case NoFault:
		out, runErr = fn()
		return out, runErr, nil
	case KillTwo:
		for _, v := range victims {
			if err := t.Kill(v); err != nil {
				runErr = fmt.Errorf("bench: kill %s: %w", v, err)
				break
			}
		}
		if runErr == nil {
			out, runErr = fn()
		}
		var errs []error
		for _, v := range victims {
			if err := t.StartProc(v); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) == 0 {
			errs = append(errs, ready(ctx))
		}
		return out, runErr, errors.Join(errs...)
	case FreezeTwo:
		var frozen []string
		defer func() {
			var errs []error
			for _, v := range frozen {
				if err := t.Signal(v, syscall.SIGCONT); err != nil {
					errs = append(errs, err)
				}
			}
			if len(errs) == 0 {
				errs = append(errs, ready(ctx))
			}
			restoreErr = errors.Join(errs...)
		}()
		for _, v := range victims {
			if err := t.Signal(v, syscall.SIGSTOP); err != nil {
				return nil, fmt.Errorf("bench: freeze %s: %w", v, err), nil
			}
			frozen = append(frozen, v)
		}
		out, runErr = fn()
		return out, runErr, nil
	default:
		return nil, fmt.Errorf("bench: unknown fault %q", f), nil
	}
}

// seed uploads n objects of size bytes into bucket once per run, so that
// GET workloads of one size share them.
func (r *run) seed(ctx context.Context, bucket string, size int64, n int) error {
	if r.seeded[bucket] {
		return nil
	}
	r.cfg.Logger.Info("bench: uploading objects for GET", "bucket", bucket, "objects", n, "size", size)
	if _, err := r.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("bench: create bucket %s: %w", bucket, err)
	}
	body := make([]byte, size)
	_, _ = rand.Read(body)
	keys := make(chan int)
	errs := make(chan error, seedConcurrency)
	var wg sync.WaitGroup
	for range seedConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range keys {
				key := fmt.Sprintf("obj/%06d", i)
				_, err := r.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
				if err != nil {
					errs <- fmt.Errorf("bench: upload %s/%s: %w", bucket, key, err)
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := range n {
		select {
		case keys <- i:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(keys)
	wg.Wait()
	close(errs)
	if err == nil {
		err = <-errs // nil once closed and drained
	}
	if err != nil {
		return err
	}
	r.seeded[bucket] = true
	return nil
}
