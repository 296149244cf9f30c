package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cairn-io/cairn/node/devcluster"
	"github.com/cairn-io/cairn/node/identity"
)

type credentials struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

func runDev(args []string) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	var (
		s3Addr  = fs.String("s3-addr", "127.0.0.1:9000", "S3 endpoint address of the gateway")
		dataDir = fs.String("data-dir", ".cairn-dev", "directory holding every node's data, logs and the cluster layout")
		// Passed to every process; zero keeps the server's default.
		insecure      = fs.Bool("insecure-internal", false, "run the processes without mutual TLS between them (default: certificates made in <data-dir>/tls)")
		nodeDownAfter = fs.Duration("node-down-after", 0, "a storage node without heartbeats this long is committed down (default: the server's, 10m)")
	)
	fs.String("config", "", "YAML configuration file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := applyEnvAndFile(fs); err != nil {
		return err
	}
	layout, err := devcluster.LoadOrCreate(devcluster.Spec{Dir: *dataDir, S3Addr: *s3Addr})
	if err != nil {
		return err
	}
	creds, err := loadCredentials(layout.Dir)
	if err != nil {
		return err
	}
	keys, err := devcluster.LoadOrCreateKeys(layout.Dir)
	if err != nil {
		return err
	}
	masterKey := keys.MasterKey
	if v := os.Getenv("CAIRN_MASTER_KEY"); v != "" {
		if _, err := identity.ParseMasterKey(v); err != nil {
			return fmt.Errorf("CAIRN_MASTER_KEY: %w", err)
		}
		masterKey = v
	}
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	env := []string{"CAIRN_ACCESS_KEY=" + creds.AccessKey, "CAIRN_SECRET_KEY=" + creds.SecretKey, "CAIRN_MASTER_KEY=" + masterKey}
	if *nodeDownAfter < 0 {
		return fmt.Errorf("--node-down-after %v is negative", *nodeDownAfter)
	}
	if *nodeDownAfter > 0 {
		env = append(env, "CAIRN_NODE_DOWN_AFTER="+nodeDownAfter.String())
	}
	cl, err := devcluster.New(layout, devcluster.Options{
		Binary:     bin,
		Env:        env,
		GatewayEnv: keys.KMSEnv(),

		InsecureInternal: *insecure,
	})
	if err != nil {
		return err
	}
	// What admin commands need to authenticate to the meta group.
	adminTLSEnv := "  export CAIRN_INSECURE_INTERNAL=true\n"
	if certs := cl.Certs(); certs != nil {
		f := certs.Files(devcluster.AdminCert)
		adminTLSEnv = fmt.Sprintf("  export CAIRN_TLS_CA=%s\n  export CAIRN_TLS_CERT=%s\n  export CAIRN_TLS_KEY=%s\n", f.CA, f.Cert, f.Key)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Printf("Starting a local Cairn cluster (3 meta, 6 storage, 1 gateway) in %s\n", layout.Dir)
	if err := cl.Start(); err != nil {
		_ = cl.Stop(context.Background())
		return err
	}
	readyCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	err = cl.WaitReady(readyCtx, creds.AccessKey, creds.SecretKey)
	cancel()
	if err != nil {
		_ = cl.Stop(context.Background())
		return fmt.Errorf("cluster did not become ready (logs in %s): %w", cl.LogDir(), err)
	}
	endpoint := "http://" + layout.S3Addr()
	fmt.Printf(`
Cairn is running.

  S3 endpoint:  %[1]s
  Access key:   %[2]s
  Secret key:   %[3]s
  Region:       us-east-1
  Data:         %[4]s
  Logs:         %[5]s

Try it with the AWS CLI:

  export AWS_ACCESS_KEY_ID=%[2]s AWS_SECRET_ACCESS_KEY=%[3]s AWS_DEFAULT_REGION=us-east-1
  aws --endpoint-url %[1]s s3 mb s3://demo
  aws --endpoint-url %[1]s s3 cp README.md s3://demo/README.md
  aws --endpoint-url %[1]s s3 ls s3://demo

Users with their own keys (the master key seals their secrets; admin
commands authenticate with the admin certificate):

  export CAIRN_META_ADDRS=%[6]s
  export CAIRN_MASTER_KEY='%[7]s'
%[9]s  %[8]s admin user create --name alice
  %[8]s admin user list
  %[8]s admin user delete --access-key <key>

Follow the requests the gateway serves, live:

  %[8]s admin trace --endpoint %[1]s

Press Ctrl-C to stop; running it again finds the data.
`, endpoint, creds.AccessKey, creds.SecretKey, layout.Dir, cl.LogDir(),
		strings.Join(layout.MetaAddrs(), ","), masterKey, bin, adminTLSEnv)
	printAdmin(layout)
	if a := layout.ConsoleAddr(); a != "" {
		fmt.Printf("\nWeb console: http://%s/ (sign in with the access key and secret key above)\n", a)
	}

	watchCtx, watchCancel := context.WithCancel(ctx)
	defer watchCancel()
	for _, p := range layout.Procs {
		go func() {
			select {
			case <-cl.Exited(p.Name):
				if watchCtx.Err() == nil {
					fmt.Fprintf(os.Stderr, "cairn dev: %s exited; see %s\n", p.Name, filepath.Join(cl.LogDir(), p.Name+".log"))
				}
			case <-watchCtx.Done():
			}
		}()
	}
	<-ctx.Done()
	watchCancel()
	fmt.Println("\nStopping the cluster...")
	stopCtx, cancelStop := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelStop()
	if err := cl.Stop(stopCtx); err != nil {
		return err
	}
	fmt.Println("Stopped.")
	return nil
}

// loadCredentials takes the root credentials from CAIRN_ACCESS_KEY and
// CAIRN_SECRET_KEY, or from the data directory, or generates and stores
// them there (readable by the owner only).
func loadCredentials(dir string) (credentials, error) {
	ak, sk := os.Getenv("CAIRN_ACCESS_KEY"), os.Getenv("CAIRN_SECRET_KEY")
	if ak != "" && sk != "" {
		return credentials{AccessKey: ak, SecretKey: sk}, nil
	}
	if ak != "" || sk != "" {
		return credentials{}, errors.New("set both CAIRN_ACCESS_KEY and CAIRN_SECRET_KEY, or neither")
	}
	path := filepath.Join(dir, "credentials.json")
	b, err := os.ReadFile(path)
	if err == nil {
		var c credentials
		if err := json.Unmarshal(b, &c); err != nil || c.AccessKey == "" || c.SecretKey == "" {
			return credentials{}, fmt.Errorf("read credentials.json: malformed")
		}
		return c, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return credentials{}, fmt.Errorf("read credentials: %w", err)
	}
	c := credentials{AccessKey: "CAIRN" + randomString(15, upperAlnum), SecretKey: randomString(40, secretAlphabet)}
	b, err = json.MarshalIndent(c, "", "  ")
	if err != nil {
		return credentials{}, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return credentials{}, fmt.Errorf("store credentials: %w", err)
	}
	return c, nil
}

const (
	upperAlnum     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// printAdmin lists each process's metrics URL (its /healthz and /readyz sit
// beside it).
func printAdmin(layout *devcluster.Layout) {
	fmt.Println("\nMetrics (with /healthz and /readyz beside them):")
	for _, p := range layout.Procs {
		if p.AdminAddr != "" {
			fmt.Printf("  %-10s http://%s/metrics\n", p.Name, p.AdminAddr)
		}
	}
	if path, err := layout.WritePrometheusTargets(); err == nil {
		fmt.Printf("  Prometheus targets (file_sd_configs): %s\n", path)
	} else {
		fmt.Fprintf(os.Stderr, "cairn dev: %v\n", err)
	}
}
