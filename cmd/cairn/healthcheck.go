package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/cairn-io/cairn/node/observe"
)

// runHealthcheck asks a process's admin listener whether it is alive
// (/healthz) or ready (/readyz) and exits 0 only on 200. Container images
// built FROM distroless have no curl or shell, so their health checks run
// the binary itself: `cairn healthcheck --ready`.
func runHealthcheck(args []string) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	var (
		addr    = fs.String("admin-addr", "127.0.0.1:9100", "the process's admin listener (host:port)")
		ready   = fs.Bool("ready", false, "ask /readyz (the roles can serve) instead of /healthz (the process runs)")
		timeout = fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	)
	fs.String("config", "", "YAML configuration file (its admin-addr is used)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := applyEnvAndFile(fs); err != nil {
		return err
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	code, body, err := observe.Probe(ctx, *addr, path)
	if errors.Is(err, observe.ErrBadProbe) {
		return usageError{fmt.Errorf("healthcheck: %w", err)}
	}
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	fmt.Print(body)
	if code != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d %s", path, code, http.StatusText(code))
	}
	return nil
}
