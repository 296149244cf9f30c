package devcluster

import (
	"fmt"
	"syscall"
)

// Signal sends sig to the named process without waiting for any effect:
// SIGSTOP freezes a node (it keeps its sockets open but never answers, as a
// hung machine does) and SIGCONT resumes it. A process that is not running
// is an error.
func (c *Cluster) Signal(name string, sig syscall.Signal) error {
	c.mu.Lock()
	r := c.mu.procs[name]
	c.mu.Unlock()
	if r == nil {
		return fmt.Errorf("devcluster: signal %v to %s: not started", sig, name)
	}
	select {
	case <-r.done:
		return fmt.Errorf("devcluster: signal %v to %s: not running", sig, name)
	default:
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("devcluster: signal %v to %s: %w", sig, name, err)
	}
	return nil
}
