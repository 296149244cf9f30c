package chaos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ErrNoNamespaces: network namespaces cannot be made here (not root, no
// iproute2); the campaign runs on loopback with process faults only.
var ErrNoNamespaces = errors.New("chaos: network namespaces unavailable")

// Netns drives deploy/netns-cluster.sh: the layout of hosts in network
// namespaces on one bridge.
type Netns struct {
	script string
	env    []string // CAIRN_NETNS_* for the script
	bridge string
	hostIP string // the bridge's address in the root namespace
}

// FindScript returns deploy/netns-cluster.sh of the module that contains
// the working directory.
func FindScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("chaos: find script: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "deploy", "netns-cluster.sh")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("chaos: find script: %w", err)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("chaos: find script: no go.mod above the working directory")
		}
		dir = parent
	}
}

// NewNetns prepares the script with a name prefix and subnet ("" for the
// script's defaults). It changes nothing.
func NewNetns(ctx context.Context, script, prefix, subnet string) (*Netns, error) {
	n := &Netns{script: script}
	if prefix != "" {
		n.env = append(n.env, "CAIRN_NETNS_PREFIX="+prefix)
	}
	if subnet != "" {
		n.env = append(n.env, "CAIRN_NETNS_SUBNET="+subnet)
	}
	out, err := n.run(ctx, "bridge")
	if err != nil {
		return nil, err
	}
	f := strings.Fields(out)
	if len(f) != 2 {
		return nil, fmt.Errorf("chaos: netns bridge: unexpected output %q", out)
	}
	n.bridge, n.hostIP = f[0], f[1]
	return n, nil
}

func (n *Netns) run(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{n.script}, args...)...)
	cmd.Env = append(os.Environ(), n.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 3 {
			return "", fmt.Errorf("%w: %s", ErrNoNamespaces, strings.TrimSpace(stderr.String()))
		}
		return "", fmt.Errorf("chaos: netns %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// Check reports ErrNoNamespaces when namespaces cannot be made here.
func (n *Netns) Check(ctx context.Context) error {
	_, err := n.run(ctx, "check")
	return err
}

// Up makes the bridge and hosts 1..count.
func (n *Netns) Up(ctx context.Context, count int) error {
	_, err := n.run(ctx, "up", fmt.Sprint(count))
	return err
}

// Down removes everything the script made; it is idempotent.
func (n *Netns) Down(ctx context.Context) error {
	_, err := n.run(ctx, "down")
	return err
}

// Addr is the address of host node.
func (n *Netns) Addr(ctx context.Context, node int) (string, error) {
	return n.run(ctx, "addr", fmt.Sprint(node))
}

// Veth is the root-namespace end of host node's link.
func (n *Netns) Veth(ctx context.Context, node int) (string, error) {
	return n.run(ctx, "veth", fmt.Sprint(node))
}

// Exec runs a short command inside host node's namespace.
func (n *Netns) Exec(ctx context.Context, node int, args ...string) (string, error) {
	return n.run(ctx, append([]string{"exec", fmt.Sprint(node)}, args...)...)
}

// Command returns a command that runs bin inside host node's namespace
// under the same PID (the script and ip exec it), for long-running
// processes that are signalled by PID.
func (n *Netns) Command(node int, bin string, args ...string) *exec.Cmd {
	cmd := exec.Command("bash", append([]string{n.script, "exec", fmt.Sprint(node), bin}, args...)...)
	cmd.Env = append(os.Environ(), n.env...)
	return cmd
}

// Bridge is the bridge's name.
func (n *Netns) Bridge() string { return n.bridge }

// CheckRoute fails unless addr is reached through the bridge: traffic for
// the hosts must never leave this machine.
func (n *Netns) CheckRoute(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "-o", "route", "get", addr).Output()
	if err != nil {
		return fmt.Errorf("chaos: route to %s: %w", addr, err)
	}
	if f := strings.Fields(string(out)); !containsSeq(f, "dev", n.bridge) {
		return fmt.Errorf("chaos: %s is not routed through %s (%q): refusing to send traffic", addr, n.bridge, strings.TrimSpace(string(out)))
	}
	return nil
}

func containsSeq(f []string, a, b string) bool {
	for i := 0; i+1 < len(f); i++ {
		if f[i] == a && f[i+1] == b {
			return true
		}
	}
	return false
}
