package devcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/cairn-io/cairn/node/dial"
	"github.com/cairn-io/cairn/node/observe"
	"github.com/cairn-io/cairn/proto/metapb"
)

// S3Client returns an SDK client for the cluster's gateway, configured the
// way applications configure it (config.LoadDefaultConfig, so that request
// checksums and the rest of the SDK's defaults are on), with only the
// endpoint, path-style addressing, region and credentials set.
func S3Client(l *Layout, accessKey, secretKey string) *s3.Client {
	return s3Client(l, accessKey, secretKey, nil)
}

// S3Client is the package's S3Client for this cluster: over HTTPS,
// trusting the cluster CA, when the gateway serves TLS (Options.S3TLS).
func (c *Cluster) S3Client(accessKey, secretKey string) *s3.Client {
	if !c.s3TLS {
		return S3Client(c.layout, accessKey, secretKey)
	}
	return s3Client(c.layout, accessKey, secretKey, c.certs)
}

// S3TLSConfig trusts the cluster CA, for clients of a gateway that serves
// TLS with its cluster certificate (Options.S3TLS).
func (c Certs) S3TLSConfig() (*tls.Config, error) {
	b, err := os.ReadFile(c.Files(AdminCert).CA)
	if err != nil {
		return nil, fmt.Errorf("devcluster: read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New("devcluster: CA file holds no certificate")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

func s3Client(l *Layout, accessKey, secretKey string, certs *Certs) *s3.Client {
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(accessKey, secretKey, "")),
	)
	if err != nil {
		// Only a malformed shared config file of the user's can fail here;
		// fall back to the defaults the SDK documents for checksums.
		cfg = aws.Config{
			Region:                     "us-east-1",
			Credentials:                credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
			RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
			ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
		}
	}
	scheme := "http://"
	if certs != nil {
		tc, err := certs.S3TLSConfig()
		if err == nil {
			// The SDK's own client with only the CA pool changed, so
			// that its connection pooling (and so the cost measured) is
			// the same as over HTTP.
			cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
				tr.TLSClientConfig = tc
			})
		}
		// Without the CA the client fails every request with an unknown
		// authority, which says what is wrong.
		scheme = "https://"
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(scheme + l.S3Addr())
		o.UsePathStyle = true
	})
}

// WaitReady waits until the meta group has a leader, every storage node of
// the layout is registered and up, the gateway answers a signed S3
// request, and every gateway's /readyz says it is ready (its own copy of
// the cluster map has caught up, so a PUT made at once spreads its shards
// over every node). It dials meta with the layout's admin certificate
// when the layout has certificates.
func WaitReady(ctx context.Context, l *Layout, accessKey, secretKey string) error {
	d := dial.Default()
	certs := Certs{Dir: filepath.Join(l.Dir, tlsDirName)}
	if _, err := os.Stat(certs.Files(AdminCert).Cert); err == nil {
		if d, err = certs.Dialer(AdminCert); err != nil {
			return err
		}
	}
	return waitReady(ctx, l, d, S3Client(l, accessKey, secretKey))
}

func waitReady(ctx context.Context, l *Layout, d *dial.Dialer, cl *s3.Client) error {
	var metaAddr string
	for _, p := range l.Procs {
		if p.RaftAddr != "" {
			metaAddr = p.GRPCAddr
			break
		}
	}
	conn, err := d.GRPC(metaAddr)
	if err != nil {
		return fmt.Errorf("devcluster: dial meta: %w", err)
	}
	defer conn.Close()
	mc := metapb.NewMetaClient(conn)
	want := len(l.Names("storage"))
	var gateways []string // admin addresses
	for _, name := range l.Names("gateway") {
		if p, _ := l.Proc(name); p.AdminAddr != "" {
			gateways = append(gateways, p.AdminAddr)
		}
	}
	var last error
	for {
		last = probe(ctx, mc, cl, want, gateways)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("devcluster: not ready: %w", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func probe(ctx context.Context, mc metapb.MetaClient, cl *s3.Client, wantNodes int, gateways []string) error {
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	resp, err := mc.GetClusterMap(pctx, &metapb.GetClusterMapRequest{})
	if err != nil {
		return fmt.Errorf("cluster map: %w", err)
	}
	up := 0
	for _, n := range resp.GetMap().GetNodes() {
		if n.GetUp() {
			up++
		}
	}
	if up < wantNodes {
		return fmt.Errorf("%d of %d storage nodes up", up, wantNodes)
	}
	if _, err := cl.ListBuckets(pctx, &s3.ListBucketsInput{}); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	for _, addr := range gateways {
		code, body, err := observe.Probe(pctx, addr, "/readyz")
		if err != nil {
			return fmt.Errorf("gateway readiness: %w", err)
		}
		if code != http.StatusOK {
			return fmt.Errorf("gateway readiness: %d: %s", code, strings.TrimSpace(body))
		}
	}
	return nil
}
