package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-io/cairn/node/devcluster"
	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/proto/metapb"
)

// ClusterConfig lays out a cluster of separate cairn processes.
type ClusterConfig struct {
	Binary  string
	Dir     string // data directory: one subdirectory per process, and logs/
	Net     *Netns // nil: every process on its own 127.0.0.x address
	Meta    int    // meta voters, default 3
	Storage int    // storage nodes, default 7
	Env     []string
}

// Cluster runs the processes of a layout, each in its own network
// namespace when Net is set. Unlike devcluster.Cluster it can pause
// processes and run them inside namespaces; it reuses devcluster's layout
// (and so the `cairn server` arguments) and readiness probe.
type Cluster struct {
	cfg    ClusterConfig
	layout *devcluster.Layout
	host   map[string]int // process name -> namespace host number
	logDir string
	// certs are the cluster's mutual-TLS certificates (as cairn dev makes
	// them); dialer reaches its nodes with the all-roles one.
	certs  devcluster.Certs
	dialer *dial.Dialer

	mu struct {
		sync.Mutex
		procs map[string]*proc
	}
}

type proc struct {
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited and been reaped
	paused bool
}

// Fixed ports in namespace mode: every host has an address of its own.
const (
	nsGRPCPort = "7100"
	nsRaftPort = "7200"
	nsS3Port   = "9000"
)

// NewCluster lays out the cluster; Start launches it.
func NewCluster(ctx context.Context, cfg ClusterConfig) (*Cluster, error) {
	if cfg.Binary == "" || cfg.Dir == "" {
		return nil, errors.New("chaos: cluster needs a binary and a directory")
	}
	if cfg.Meta == 0 {
		cfg.Meta = 3
	}
	if cfg.Storage == 0 {
		cfg.Storage = 7
	}
	c := &Cluster{cfg: cfg, host: map[string]int{}, logDir: filepath.Join(cfg.Dir, "logs")}
	c.mu.procs = map[string]*proc{}
	if err := os.MkdirAll(c.logDir, 0o755); err != nil {
		return nil, fmt.Errorf("chaos: create log dir: %w", err)
	}
	// Host 1 is the gateway, then the meta voters, then the storage nodes.
	type slot struct {
		name  string
		roles []string
	}
	slots := []slot{{"gateway", []string{"gateway"}}}
	for i := 1; i <= cfg.Meta; i++ {
		slots = append(slots, slot{fmt.Sprintf("meta-%d", i), []string{"meta"}})
	}
	for i := 1; i <= cfg.Storage; i++ {
		slots = append(slots, slot{fmt.Sprintf("storage-%d", i), []string{"storage"}})
	}
	var held []net.Listener // loopback ports stay taken until all are chosen
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	addr := func(host int, nsPort string) (string, error) {
		if cfg.Net != nil {
			ip, err := cfg.Net.Addr(ctx, host)
			if err != nil {
				return "", err
			}
			return net.JoinHostPort(ip, nsPort), nil
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", 10+host))
		if err != nil {
			return "", fmt.Errorf("chaos: pick a port: %w", err)
		}
		held = append(held, l)
		return l.Addr().String(), nil
	}
	layout := &devcluster.Layout{Version: 1, Dir: cfg.Dir, ClusterID: "chaos"}
	for i, s := range slots {
		host := i + 1
		c.host[s.name] = host
		p := devcluster.Proc{Name: s.name, Roles: s.roles, DataDir: s.name}
		var err error
		switch s.roles[0] {
		case "gateway":
			p.S3Addr, err = addr(host, nsS3Port)
		case "meta":
			p.NodeID = s.name
			if p.GRPCAddr, err = addr(host, nsGRPCPort); err == nil {
				p.RaftAddr, err = addr(host, nsRaftPort)
			}
		case "storage":
			p.NodeID = s.name
			p.GRPCAddr, err = addr(host, nsGRPCPort)
		}
		if err != nil {
			return nil, err
		}
		layout.Procs = append(layout.Procs, p)
	}
	c.layout = layout
	certs, err := devcluster.LoadOrCreateCerts(layout)
	if err != nil {
		return nil, fmt.Errorf("chaos: certificates: %w", err)
	}
	if c.dialer, err = certs.Dialer(devcluster.AllRolesCert); err != nil {
		return nil, fmt.Errorf("chaos: certificates: %w", err)
	}
	c.certs = certs
	return c, nil
}

// Layout is the cluster's layout.
func (c *Cluster) Layout() *devcluster.Layout { return c.layout }

// Names lists the processes of a role in layout order.
func (c *Cluster) Names(role string) []string { return c.layout.Names(role) }

// Host is the namespace host number of a process.
func (c *Cluster) Host(name string) int { return c.host[name] }

// IP is the address a process listens on.
func (c *Cluster) IP(name string) string {
	p, _ := c.layout.Proc(name)
	a := p.GRPCAddr
	if a == "" {
		a = p.S3Addr
	}
	h, _, _ := net.SplitHostPort(a)
	return h
}

// DriveDir is a storage node's (only) drive.
func (c *Cluster) DriveDir(name string) string {
	return filepath.Join(c.cfg.Dir, name, "drive0")
}

// StartAll launches every process that is not running.
func (c *Cluster) StartAll() error {
	for _, p := range c.layout.Procs {
		if err := c.Start(p.Name); err != nil {
			return err
		}
	}
	return nil
}

// Start launches one process if it is not running.
func (c *Cluster) Start(name string) error {
	p, ok := c.layout.Proc(name)
	if !ok {
		return fmt.Errorf("chaos: no process %q", name)
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
	logf, err := os.OpenFile(filepath.Join(c.logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("chaos: open log of %s: %w", name, err)
	}
	args := c.layout.Args(p)
	var cmd *exec.Cmd
	if c.cfg.Net != nil {
		cmd = c.cfg.Net.Command(c.host[name], c.cfg.Binary, args...)
	} else {
		cmd = exec.Command(c.cfg.Binary, args...)
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, c.cfg.Env...)
	// Each process runs with its own certificate, named by its node ID
	// (the gateway, which has none, by its name), as cairn dev does.
	certName := p.NodeID
	if certName == "" {
		certName = p.Name
	}
	cmd.Env = append(cmd.Env, c.certs.Env(certName)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group (a terminal's Ctrl-C reaches the test only), and
	// killed with the test process should that die without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(logf, "---- chaos: start %s at %s\n", name, time.Now().Format(time.RFC3339Nano))
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("chaos: start %s: %w", name, err)
	}
	r := &proc{cmd: cmd, done: make(chan struct{})}
	// The reaper ends when the process does; Close kills every process and
	// waits for each done channel.
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(r.done)
	}()
	c.mu.procs[name] = r
	return nil
}

func (c *Cluster) proc(name string) *proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.procs[name]
}

// Running reports whether a process is alive (paused counts as alive).
func (c *Cluster) Running(name string) bool {
	r := c.proc(name)
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

// Paused reports whether a process is stopped by SIGSTOP.
func (c *Cluster) Paused(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.mu.procs[name]
	return r != nil && r.paused
}

// Kill sends SIGKILL and waits for the process to be reaped.
func (c *Cluster) Kill(ctx context.Context, name string) error {
	r := c.proc(name)
	if r == nil {
		return nil
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	select {
	case <-r.done:
		c.mu.Lock()
		r.paused = false
		c.mu.Unlock()
		return nil
	case <-ctx.Done():
		return fmt.Errorf("chaos: kill %s: not reaped: %w", name, ctx.Err())
	}
}

// Pause stops a process with SIGSTOP.
func (c *Cluster) Pause(name string) error { return c.pause(name, true) }

// Resume continues a paused process with SIGCONT.
func (c *Cluster) Resume(name string) error { return c.pause(name, false) }

func (c *Cluster) pause(name string, stop bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.mu.procs[name]
	if r == nil {
		return fmt.Errorf("chaos: %s was never started", name)
	}
	sig := syscall.SIGCONT
	if stop {
		sig = syscall.SIGSTOP
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("chaos: signal %s: %w", name, err)
	}
	r.paused = stop
	return nil
}

// StopAll continues paused processes, then stops every process (SIGTERM,
// SIGKILL after the timeout): gateway first, then storage, then meta.
func (c *Cluster) StopAll(timeout time.Duration) error {
	var errs []error
	for _, role := range []string{"gateway", "storage", "meta"} {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, name := range c.Names(role) {
			r := c.proc(name)
			if r == nil {
				continue
			}
			wg.Go(func() {
				_ = r.cmd.Process.Signal(syscall.SIGCONT)
				_ = r.cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-r.done:
					return
				case <-time.After(timeout):
				}
				_ = r.cmd.Process.Signal(syscall.SIGKILL)
				select {
				case <-r.done:
				case <-time.After(15 * time.Second):
					mu.Lock()
					errs = append(errs, fmt.Errorf("chaos: %s (pid %d) not reaped", name, r.cmd.Process.Pid))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	return errors.Join(errs...)
}

// WaitReady waits until the meta group has a leader, every storage node is
// registered and up and the gateway answers.
func (c *Cluster) WaitReady(ctx context.Context, accessKey, secretKey string) error {
	err := devcluster.WaitReady(ctx, c.layout, accessKey, secretKey)
	if err != nil {
		var down []string
		for _, p := range c.layout.Procs {
			if !c.Running(p.Name) {
				down = append(down, p.Name)
			}
		}
		if len(down) > 0 {
			return fmt.Errorf("%w (not running: %s)", err, strings.Join(down, ", "))
		}
	}
	return err
}

// MetaLeader asks each running, unpaused meta voter for its Raft state.
func (c *Cluster) MetaLeader(ctx context.Context) (string, error) {
	for _, name := range c.Names("meta") {
		if !c.Running(name) || c.Paused(name) {
			continue
		}
		p, _ := c.layout.Proc(name)
		conn, err := c.dialer.GRPC(p.GRPCAddr)
		if err != nil {
			return "", fmt.Errorf("chaos: dial %s: %w", name, err)
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := metapb.NewMetaClient(conn).Status(sctx, &metapb.StatusRequest{})
		cancel()
		conn.Close()
		if err == nil && st.GetRaftState() == "Leader" {
			return name, nil
		}
	}
	return "", errors.New("chaos: no meta leader")
}

// WaitLeader waits for a meta leader.
func (c *Cluster) WaitLeader(ctx context.Context, within time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		name, err := c.MetaLeader(ctx)
		if err == nil {
			return name, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("chaos: wait for a meta leader: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// LogTails returns the last lines of every process log.
func (c *Cluster) LogTails(lines int) string {
	var b strings.Builder
	for _, p := range c.layout.Procs {
		data, err := os.ReadFile(filepath.Join(c.logDir, p.Name+".log"))
		if err != nil {
			continue
		}
		ls := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(ls) > lines {
			ls = ls[len(ls)-lines:]
		}
		fmt.Fprintf(&b, "---- %s ----\n%s\n", p.Name, strings.Join(ls, "\n"))
	}
	return b.String()
}
