package devcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-io/cairn/node/dial"
)

// Cluster runs the processes of a Layout.
type Cluster struct {
	layout *Layout
	binary string
	env    []string
	gwEnv  []string
	logDir string
	// certs is nil for a plaintext cluster (Options.InsecureInternal).
	certs  *Certs
	dialer *dial.Dialer
	s3TLS  bool

	mu struct {
		sync.Mutex
		procs map[string]*running
		// procEnv is more environment for one process's next starts
		// (SetProcEnv), after every other.
		procEnv map[string][]string
	}
}

// SetProcEnv gives the named process env (KEY=value, overriding the
// cluster's) from its next start on, e.g. another master key.
func (c *Cluster) SetProcEnv(name string, env ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.procEnv == nil {
		c.mu.procEnv = map[string][]string{}
	}
	c.mu.procEnv[name] = env
}

type running struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	log  *os.File
}

// Options configures a Cluster.
type Options struct {
	Binary string   // path of the cairn binary
	Env    []string // extra environment (credentials), appended to os.Environ
	// GatewayEnv is more environment for gateway processes only (the
	// server-side encryption keys).
	GatewayEnv []string
	LogDir     string // one log file per process; default <data dir>/logs
	// InsecureInternal runs the processes with --insecure-internal
	// (plaintext, unauthenticated traffic between them) instead of
	// mutual TLS with certificates made in <data dir>/tls.
	InsecureInternal bool
	// S3TLS serves the gateway's S3 endpoint over HTTPS only, with the
	// gateway's certificate (it names 127.0.0.1 and localhost); S3Client
	// then trusts the cluster CA. It needs mutual TLS (certificates).
	S3TLS bool
}

// New prepares a Cluster; Start launches it.
func New(l *Layout, opts Options) (*Cluster, error) {
	if opts.Binary == "" {
		return nil, errors.New("devcluster: binary is required")
	}
	if opts.LogDir == "" {
		opts.LogDir = filepath.Join(l.Dir, "logs")
	}
	if err := os.MkdirAll(opts.LogDir, 0o700); err != nil {
		return nil, fmt.Errorf("devcluster: create log dir: %w", err)
	}
	c := &Cluster{layout: l, binary: opts.Binary, env: opts.Env, gwEnv: opts.GatewayEnv, logDir: opts.LogDir, dialer: dial.Default()}
	if opts.S3TLS && opts.InsecureInternal {
		return nil, errors.New("devcluster: S3TLS needs the cluster's certificates; it cannot go with InsecureInternal")
	}
	c.s3TLS = opts.S3TLS
	if opts.InsecureInternal {
		c.env = append(slices.Clone(c.env), "CAIRN_INSECURE_INTERNAL=true")
	} else {
		certs, err := LoadOrCreateCerts(l)
		if err != nil {
			return nil, err
		}
		if c.dialer, err = certs.Dialer(AllRolesCert); err != nil {
			return nil, err
		}
		c.certs = &certs
	}
	c.mu.procs = make(map[string]*running)
	return c, nil
}

// Certs are the cluster's certificates; nil for a plaintext cluster.
func (c *Cluster) Certs() *Certs { return c.certs }

// Dialer dials the cluster's nodes with a certificate of every role
// (AllRolesCert) under mutual TLS, plaintext for an insecure cluster: for
// tests that call the nodes directly, and readiness probes.
func (c *Cluster) Dialer() *dial.Dialer { return c.dialer }

// Layout returns the cluster's layout.
func (c *Cluster) Layout() *Layout { return c.layout }

// LogDir is where the processes write their logs.
func (c *Cluster) LogDir() string { return c.logDir }

// Start launches every process that is not running.
func (c *Cluster) Start() error {
	for _, p := range c.layout.Procs {
		if err := c.StartProc(p.Name); err != nil {
			return err
		}
	}
	return nil
}

// StartProc launches one process if it is not running.
func (c *Cluster) StartProc(name string) error {
	p, ok := c.layout.Proc(name)
	if !ok {
		return fmt.Errorf("devcluster: no process %q", name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.mu.procs[name]; r != nil {
		select {
		case <-r.done:
		default:
			return nil
		}
	}
	logf, err := os.OpenFile(filepath.Join(c.logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("devcluster: open log of %s: %w", name, err)
	}
	args := c.layout.Args(p)
	if c.s3TLS && p.S3Addr != "" {
		f := c.certs.Files(certName(p))
		args = append(args, "--s3-addr", "", "--s3-tls-addr", p.S3Addr, "--s3-tls-cert", f.Cert, "--s3-tls-key", f.Key)
	}
	if c.certs != nil && p.ConsoleAddr != "" {
		// The console's heal status and user management take the admin
		// role, which the gateway's own certificate does not have.
		f := c.certs.Files(AdminCert)
		args = append(args, "--console-tls-cert", f.Cert, "--console-tls-key", f.Key)
	}
	cmd := exec.Command(c.binary, args...)
	cmd.Env = append(os.Environ(), c.env...)
	if slices.Contains(p.Roles, "gateway") {
		cmd.Env = append(cmd.Env, c.gwEnv...)
	}
	if c.certs != nil {
		cmd.Env = append(cmd.Env, c.certs.Env(certName(p))...)
	}
	cmd.Env = append(cmd.Env, c.mu.procEnv[name]...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	// A process group of its own, so that Ctrl-C in a terminal reaches the
	// supervisor only, which then stops the children in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("devcluster: start %s: %w", name, err)
	}
	r := &running{cmd: cmd, done: make(chan struct{}), log: logf}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(r.done)
	}()
	c.mu.procs[name] = r
	return nil
}

// Running reports whether the named process is alive.
func (c *Cluster) Running(name string) bool {
	c.mu.Lock()
	r := c.mu.procs[name]
	c.mu.Unlock()
	if r == nil {
		return false
	}
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// Exited returns a channel closed when the named process exits, or nil if it
// was never started.
func (c *Cluster) Exited(name string) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.mu.procs[name]; r != nil {
		return r.done
	}
	return nil
}

// Pid returns the process ID of the named process, or 0 if it is not running.
func (c *Cluster) Pid(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.mu.procs[name]; r != nil && r.cmd.Process != nil {
		return r.cmd.Process.Pid
	}
	return 0
}

// Kill sends SIGKILL to the named process and waits for it to be reaped.
func (c *Cluster) Kill(name string) error { return c.signal(name, syscall.SIGKILL, 10*time.Second) }

// StopProc asks the named process to stop (SIGTERM) and kills it if it has
// not exited within the timeout.
func (c *Cluster) StopProc(name string, timeout time.Duration) error {
	if err := c.signal(name, syscall.SIGTERM, timeout); err != nil {
		return c.Kill(name)
	}
	return nil
}

var errStillRunning = errors.New("devcluster: process did not exit in time")

func (c *Cluster) signal(name string, sig syscall.Signal, timeout time.Duration) error {
	c.mu.Lock()
	r := c.mu.procs[name]
	c.mu.Unlock()
	if r == nil {
		return nil
	}
	select {
	case <-r.done:
		return nil
	default:
	}
	_ = r.cmd.Process.Signal(sig)
	select {
	case <-r.done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("%w: %s", errStillRunning, name)
	}
}

// Stop stops every process: the gateway first, then storage, then meta, so
// that no request is left half-served by the lower layers.
func (c *Cluster) Stop(ctx context.Context) error {
	deadline := 15 * time.Second
	if d, ok := ctx.Deadline(); ok {
		deadline = time.Until(d)
	}
	var errs []error
	for _, role := range []string{"gateway", "storage", "meta"} {
		names := c.layout.Names(role)
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, n := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.StopProc(n, deadline); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	return errors.Join(errs...)
}

// WaitReady is the package's WaitReady for this cluster, except that it
// gives up as soon as one of the processes exits: a process that failed to
// start (a taken port, a bad flag) must not look like a slow cluster.
func (c *Cluster) WaitReady(ctx context.Context, accessKey, secretKey string) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	for _, p := range c.layout.Procs {
		exited := c.Exited(p.Name)
		if exited == nil {
			continue
		}
		go func() {
			select {
			case <-exited:
				cancel(fmt.Errorf("devcluster: %s exited; see %s", p.Name, filepath.Join(c.logDir, p.Name+".log")))
			case <-ctx.Done():
			}
		}()
	}
	err := waitReady(ctx, c.layout, c.dialer, c.S3Client(accessKey, secretKey))
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}

// AddStorage lays out one more storage node, issues its certificate and
// returns its name; StartProc starts it.
func (c *Cluster) AddStorage() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.layout.AddStorage("")
	if err != nil {
		return "", err
	}
	if c.certs != nil {
		if _, err := LoadOrCreateCerts(c.layout); err != nil {
			return "", err
		}
	}
	return p.Name, nil
}
