package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/cairn-io/cairn/node/gateway"
)

// runAdminTrace streams the requests every given gateway finishes, like
// `mc admin trace`: one line per request, or the gateway's JSON with
// --json. It authenticates with the root S3 credentials (the trace shows
// every caller's requests) and reconnects when a gateway goes away.
func runAdminTrace(args []string) error {
	fs := flag.NewFlagSet("admin trace", flag.ContinueOnError)
	var (
		endpoints = fs.String("endpoint", "", "S3 endpoint(s) of the gateways to trace, comma-separated (http://host:port)")
		accessKey = fs.String("access-key", "", "root access key (default $AWS_ACCESS_KEY_ID)")
		secretKey = fs.String("secret-key", "", "root secret key (default $AWS_SECRET_ACCESS_KEY)")
		region    = fs.String("region", "us-east-1", "the gateways' region")
		caFile    = fs.String("s3-ca", "", "PEM file of the CA that signed the gateways' HTTPS certificates (default: the system's)")
		errorsOut = fs.Bool("errors", false, "only requests answered with a 4xx or 5xx status")
		bucket    = fs.String("bucket", "", "only requests for this bucket")
		op        = fs.String("op", "", "only this operation (GetObject, PutOrCopyObject, ...)")
		jsonOut   = fs.Bool("json", false, "print each request as the gateway's JSON line")
	)
	fs.String("config", "", "YAML configuration file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := applyEnvAndFile(fs); err != nil {
		return err
	}
	if *accessKey == "" {
		*accessKey = os.Getenv("AWS_ACCESS_KEY_ID")
	}
	if *secretKey == "" {
		*secretKey = os.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	eps := splitList(*endpoints)
	if len(eps) == 0 {
		return usageError{errors.New("admin trace: --endpoint (or CAIRN_ENDPOINT) is required")}
	}
	if *accessKey == "" || *secretKey == "" {
		return usageError{errors.New("admin trace: the root credentials are required (--access-key/--secret-key or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")}
	}
	client, err := traceHTTPClient(*caFile)
	if err != nil {
		return fmt.Errorf("admin trace: %w", err)
	}
	q := url.Values{}
	if *errorsOut {
		q.Set("errors", "true")
	}
	if *bucket != "" {
		q.Set("bucket", *bucket)
	}
	if *op != "" {
		q.Set("op", *op)
	}
	t := &tracer{
		client: client,
		creds:  aws.Credentials{AccessKeyID: *accessKey, SecretAccessKey: *secretKey},
		region: *region,
		query:  q.Encode(),
		out:    os.Stdout,
		json:   *jsonOut,
		label:  len(eps) > 1,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var wg sync.WaitGroup
	errs := make([]error, len(eps))
	for i, ep := range eps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = t.follow(ctx, ep)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func traceHTTPClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read --s3-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--s3-ca %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	// No overall timeout: a trace runs until interrupted. A gateway that
	// stops answering is noticed by its missing keepalive lines instead.
	return &http.Client{Transport: tr}, nil
}

// tracer follows the trace streams of the gateways.
type tracer struct {
	client *http.Client
	creds  aws.Credentials
	region string
	query  string
	json   bool
	label  bool

	mu  sync.Mutex // serialises lines from several gateways
	out io.Writer
}

// traceIdle is how long a stream may stay silent before it is re-opened:
// the gateway writes a keepalive line every 15 s.
const traceIdle = 40 * time.Second

// follow streams one gateway's trace until ctx ends, reconnecting with a
// capped backoff. A refusal (bad credentials, not root) is final.
func (t *tracer) follow(ctx context.Context, endpoint string) error {
	backoff := 500 * time.Millisecond
	for {
		err := t.stream(ctx, endpoint)
		if ctx.Err() != nil {
			return nil
		}
		var fatal *traceRefused
		if errors.As(err, &fatal) {
			return err
		}
		fmt.Fprintf(os.Stderr, "trace %s: %v; reconnecting in %s\n", endpoint, err, backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

type traceRefused struct {
	endpoint string
	status   int
	body     string
}

func (e *traceRefused) Error() string {
	return fmt.Sprintf("trace %s: refused with %d: %s", e.endpoint, e.status, e.body)
}

func (t *tracer) stream(ctx context.Context, endpoint string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	u := strings.TrimRight(endpoint, "/") + gateway.TracePath
	if t.query != "" {
		u += "?" + t.query
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return &traceRefused{endpoint: endpoint, body: err.Error()}
	}
	sum := sha256.Sum256(nil)
	payload := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", payload)
	if err := v4.NewSigner().SignHTTP(ctx, t.creds, req, payload, "s3", t.region, time.Now()); err != nil {
		return &traceRefused{endpoint: endpoint, body: err.Error()}
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		err := &traceRefused{endpoint: endpoint, status: resp.StatusCode, body: s3ErrorMessage(b)}
		if resp.StatusCode >= 500 {
			return errors.New(err.Error())
		}
		return err
	}
	// Re-open a stream that stays silent past the keepalive interval.
	idle := time.AfterFunc(traceIdle, cancel)
	defer idle.Stop()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		idle.Reset(traceIdle)
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		t.print(endpoint, line)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}

func (t *tracer) print(endpoint string, line []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.json {
		fmt.Fprintf(t.out, "%s\n", line)
		return
	}
	var ev gateway.TraceEvent
	if err := json.Unmarshal(line, &ev); err != nil {
		return
	}
	prefix := ""
	if t.label {
		if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
			prefix = u.Host + " "
		}
	}
	fmt.Fprintf(t.out, "%s%s\n", prefix, formatTraceEvent(&ev))
}

// formatTraceEvent is one human-readable trace line:
//
//	07:31:02.114 GetObject photos/cat.jpg 200 1.3ms in 0 B out 4.0 KiB AKIA… 127.0.0.1:51234 [req-id]
func formatTraceEvent(ev *gateway.TraceEvent) string {
	ts := ev.Time.Local().Format("15:04:05.000")
	if ev.Dropped > 0 {
		return fmt.Sprintf("%s (%d requests not shown: this trace fell behind)", ts, ev.Dropped)
	}
	target := ev.Bucket
	if ev.Key != "" {
		target += "/" + ev.Key
	}
	if target == "" {
		target = "/"
	}
	status := fmt.Sprint(ev.Status)
	if ev.Error != "" {
		status += " " + ev.Error
	}
	return fmt.Sprintf("%s %s %s %s %s in %s out %s %s %s [%s]",
		ts, ev.Op, target, status, formatMillis(ev.Duration),
		bytesStr(uint64(max(ev.BytesIn, 0))), bytesStr(uint64(max(ev.BytesOut, 0))), ev.AccessKey, ev.Remote, ev.RequestID)
}

func formatMillis(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.2fs", ms/1000)
	}
	return fmt.Sprintf("%.1fms", ms)
}

// s3ErrorMessage pulls Code and Message out of an S3 XML error body.
func s3ErrorMessage(b []byte) string {
	s := string(b)
	code := between(s, "<Code>", "</Code>")
	msg := between(s, "<Message>", "</Message>")
	if code == "" {
		return strings.TrimSpace(s)
	}
	return code + ": " + msg
}

func between(s, open, close string) string {
	_, rest, ok := strings.Cut(s, open)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, close)
	return v
}
