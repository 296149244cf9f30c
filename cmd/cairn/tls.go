package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	grpccreds "google.golang.org/grpc/credentials"

	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/node/pki"
)

// tlsFlags are the internal mutual-TLS flags every command that talks to
// the cluster takes (server, admin).
type tlsFlags struct {
	ca, cert, key *string
	insecure      *bool
}

func addTLSFlags(fs *flag.FlagSet) tlsFlags {
	return tlsFlags{
		ca:       fs.String("tls-ca", "", "cluster CA certificate (PEM) for mutual TLS between nodes"),
		cert:     fs.String("tls-cert", "", "this process's certificate (PEM) issued by the cluster CA; it names the node ID and roles"),
		key:      fs.String("tls-key", "", "key of --tls-cert (PEM)"),
		insecure: fs.Bool("insecure-internal", false, "talk to other nodes in plaintext, unauthenticated (trusted networks and tests only)"),
	}
}

var errTLSFlags = errors.New("--tls-ca, --tls-cert and --tls-key go together")

// reloader loads the internal certificate; nil with --insecure-internal.
// Neither is an error that says how to fix it.
func (f tlsFlags) reloader() (*pki.Reloader, error) {
	given := 0
	for _, s := range []string{*f.ca, *f.cert, *f.key} {
		if s != "" {
			given++
		}
	}
	switch {
	case given == 3 && *f.insecure:
		return nil, errors.New("--insecure-internal contradicts --tls-ca/--tls-cert/--tls-key: choose one")
	case given == 3:
		r, err := pki.NewReloader(pki.Files{CA: *f.ca, Cert: *f.cert, Key: *f.key})
		if err != nil {
			return nil, fmt.Errorf("internal TLS: %w", err)
		}
		return r, nil
	case given > 0:
		return nil, errTLSFlags
	case *f.insecure:
		return nil, nil
	}
	return nil, errors.New("internal traffic needs mutual TLS: give --tls-ca, --tls-cert and --tls-key " +
		"(or CAIRN_TLS_CA, CAIRN_TLS_CERT, CAIRN_TLS_KEY; make them with 'cairn admin ca init' and 'cairn admin cert issue'), " +
		"or --insecure-internal for a plaintext cluster on a trusted network")
}

// dialer is the client side of reloader: mutual TLS, or plaintext when r
// is nil.
func clientDialer(r *pki.Reloader) *dial.Dialer {
	if r == nil {
		return dial.Default()
	}
	return dial.New(dial.Config{Creds: grpccreds.NewTLS(r.ClientConfig())})
}

// reloaders is every certificate a process serves or presents; SIGHUP
// reloads them all.
type reloaders struct {
	mu   sync.Mutex
	list []namedReloader
}

type namedReloader struct {
	name string
	r    *pki.Reloader
}

func (rs *reloaders) add(name string, r *pki.Reloader) {
	if r == nil {
		return
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.list = append(rs.list, namedReloader{name, r})
}

func (rs *reloaders) reloadAll(logger *slog.Logger) {
	rs.mu.Lock()
	list := append([]namedReloader(nil), rs.list...)
	rs.mu.Unlock()
	if len(list) == 0 {
		logger.Info("SIGHUP: no certificates to reload")
	}
	for _, nr := range list {
		if err := nr.r.Reload(); err != nil {
			logger.Error("SIGHUP: certificate reload failed; keeping the old one", "cert", nr.name, "err", err)
			continue
		}
		logger.Info("SIGHUP: certificate reloaded", "cert", nr.name, "serial", nr.r.Leaf().SerialNumber.Text(16), "not_after", nr.r.Leaf().NotAfter)
	}
}

// handleSIGHUP reloads every certificate of rs on SIGHUP until the
// returned stop is called, which waits for the handler to finish. SIGHUP
// never kills a server (a closed terminal, a reload sent out of habit).
func handleSIGHUP(rs *reloaders, logger *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-hup:
				rs.reloadAll(logger)
			case <-quit:
				return
			}
		}
	}()
	return func() {
		// Keep SIGHUP harmless while the process winds down.
		signal.Ignore(syscall.SIGHUP)
		signal.Stop(hup)
		close(quit)
		<-done
	}
}
