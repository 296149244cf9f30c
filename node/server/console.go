package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/cairn-io/cairn/node/console"
	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/node/metaclient"
)

// consoleServer is the gateway's web console listener and, with an admin
// certificate, its own meta connection.
type consoleServer struct {
	lis   net.Listener
	srv   *http.Server
	admin *metaclient.Client
}

// startConsole serves the web console on ConsoleAddr. It drives the
// gateway's own S3 handler in process, so every action is authorized by
// the gateway exactly as for any S3 client.
func (s *Server) startConsole(ctx context.Context, s3 http.Handler, mc *metaclient.Client) error {
	cfg := &s.cfg
	if cfg.ConsoleAddr == "" {
		return nil
	}
	mcl := &console.MetaCluster{Reader: mc, MasterKey: cfg.MasterKey}
	if cfg.ConsoleAdminTLS != nil {
		d := dial.New(dial.Config{Creds: credentials.NewTLS(cfg.ConsoleAdminTLS.ClientConfig())}).With(s.rpcClient.DialOptions()...)
		admin, err := metaclient.New(ctx, metaclient.Config{Addrs: cfg.MetaAddrs, Dialer: d, Logger: s.logger.With("role", "console-meta")})
		if err != nil {
			return fmt.Errorf("server: console: dial meta: %w", err)
		}
		s.console.admin = admin
		mcl.Admin = admin
	}
	host, s3URL := cfg.S3Addr, ""
	switch {
	case s.s3Lis != nil:
		host = s.s3Lis.Addr().String()
		s3URL = "http://" + host
	case s.s3TLSLis != nil:
		host = s.s3TLSLis.Addr().String()
		s3URL = "https://" + host
	}
	c, err := console.New(console.Config{
		S3:            s3,
		S3Host:        host,
		S3URL:         s3URL,
		Region:        cfg.Region,
		RootAccessKey: cfg.AccessKey,
		Cluster:       mcl,
		Logger:        s.logger.With("role", "console"),
	})
	if err != nil {
		return fmt.Errorf("server: console: %w", err)
	}
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", cfg.ConsoleAddr)
	if err != nil {
		return fmt.Errorf("server: listen console %s: %w", cfg.ConsoleAddr, err)
	}
	s.console.lis = lis
	s.console.srv = &http.Server{
		Handler:           c,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	s.goServe("console", func() error {
		if err := s.console.srv.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	return nil
}

// ConsoleAddr is the web console's listening address, or "".
func (s *Server) ConsoleAddr() string {
	if s.console.lis == nil {
		return ""
	}
	return s.console.lis.Addr().String()
}

func (c *consoleServer) close() {
	if c.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := c.srv.Shutdown(ctx); err != nil {
			_ = c.srv.Close()
		}
		cancel()
	}
	if c.admin != nil {
		_ = c.admin.Close()
	}
}
