package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cairn-io/cairn/node/pki"
)

// Validity of what the certificate commands issue. Node certificates are
// meant to be rotated (re-issued, then SIGHUP) well before they expire.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	certValidity = 365 * 24 * time.Hour
)

// runAdminCA is 'cairn admin ca init'.
func runAdminCA(args []string) error {
	if len(args) < 1 || args[0] != "init" {
		fmt.Fprint(os.Stderr, adminUsage)
		return usageError{errors.New("admin ca: want 'init'")}
	}
	fs := flag.NewFlagSet("admin ca init", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory to write ca.pem and ca.key into")
	cluster := fs.String("cluster-id", "cairn", "cluster ID the CA issues for (part of every node identity)")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err}
	}
	if *dir == "" {
		return usageError{errors.New("admin ca init: --dir is required")}
	}
	ca, err := pki.NewCA(*cluster, time.Now(), caValidity)
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := ca.PEM()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return fmt.Errorf("admin ca init: %w", err)
	}
	if err := writeNew(filepath.Join(*dir, "ca.key"), keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeNew(filepath.Join(*dir, "ca.pem"), certPEM, 0o644); err != nil {
		return err
	}
	fmt.Printf("CA for cluster %q written to %s (ca.pem, ca.key). Keep ca.key offline if you can: whoever holds it can join the cluster.\n", *cluster, *dir)
	return nil
}

// runAdminCert is 'cairn admin cert issue'.
func runAdminCert(args []string) error {
	if len(args) < 1 || args[0] != "issue" {
		fmt.Fprint(os.Stderr, adminUsage)
		return usageError{errors.New("admin cert: want 'issue'")}
	}
	fs := flag.NewFlagSet("admin cert issue", flag.ContinueOnError)
	var (
		caDir  = fs.String("ca-dir", "", "directory holding ca.pem and ca.key")
		nodeID = fs.String("node-id", "", "node ID the certificate names")
		roles  = fs.String("role", "", "roles, comma-separated: meta, storage, gateway, admin")
		hosts  = fs.String("host", "", "DNS names and IP addresses the node is reached at, comma-separated")
		out    = fs.String("out", "", "directory to write <node-id>.pem and <node-id>.key into")
	)
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err}
	}
	if *caDir == "" || *nodeID == "" || *roles == "" || *out == "" {
		return usageError{errors.New("admin cert issue: --ca-dir, --node-id, --role and --out are required")}
	}
	certPEM, keyPEM, err := issueCert(*caDir, pki.Identity{NodeID: *nodeID, Roles: splitList(*roles)}, splitList(*hosts))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return fmt.Errorf("admin cert issue: %w", err)
	}
	// A re-issued certificate replaces the old files (rotation); the key
	// is written first so that a reload never pairs a new certificate with
	// an old key for long.
	keyPath, certPath := filepath.Join(*out, *nodeID+".key"), filepath.Join(*out, *nodeID+".pem")
	if err := writeReplace(keyPath, keyPEM); err != nil {
		return err
	}
	if err := writeReplace(certPath, certPEM); err != nil {
		return err
	}
	fmt.Printf("Certificate for %s %v written to %s and %s.\n", *nodeID, splitList(*roles), certPath, keyPath)
	return nil
}

func issueCert(caDir string, id pki.Identity, hosts []string) (certPEM, keyPEM []byte, err error) {
	caCert, err := os.ReadFile(filepath.Join(caDir, "ca.pem"))
	if err != nil {
		return nil, nil, fmt.Errorf("read CA: %w", err)
	}
	caKey, err := os.ReadFile(filepath.Join(caDir, "ca.key"))
	if err != nil {
		return nil, nil, fmt.Errorf("read CA key: %w", err)
	}
	ca, err := pki.ParseCA(caCert, caKey)
	if err != nil {
		return nil, nil, err
	}
	return ca.Issue(id, hosts, time.Now(), certValidity)
}

// writeNew writes a file that must not exist yet.
func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists; refusing to overwrite it", path)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writeReplace writes path atomically (a temporary file renamed over it)
// with mode 0600, so that a reloading server never reads half a file.
func writeReplace(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
