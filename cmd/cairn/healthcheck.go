package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+*addr+path, nil)
	if err != nil {
		return usageError{fmt.Errorf("healthcheck: %w", err)}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Print(string(body))
	if resp.StatusCode != http.StatusOK {
		return errors.New("healthcheck: " + path + " answered " + resp.Status)
	}
	return nil
}
