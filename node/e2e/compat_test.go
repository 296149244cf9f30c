package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"
)

// The client-compatibility suite drives a live cluster with the S3 clients
// users actually have: the AWS CLI and boto3 as Debian packages them, and the
// AWS SDK for JavaScript v3 from npm (the version in compat/package-lock.json)
// with its default settings. `make deps` installs them; a missing client
// fails the test rather than skipping it, so the suite cannot pass unrun.
//
// Each client runs one script from compat/ against its own bucket. The
// scripts check what they do themselves (bodies, metadata, checksums, SSE-C,
// versions, conditional puts) and end with a fixed success line; the test
// then reads back, through aws-sdk-go-v2, a few of the objects they wrote.

const (
	// debianAWSCLI and debianPython are where Debian's awscli and
	// python3-boto3 packages install; another aws or python3 earlier on
	// PATH is not the client this suite is about.
	debianAWSCLI = "/usr/bin/aws"
	debianPython = "/usr/bin/python3"
	// compatScriptTimeout bounds one client's script. The slowest is the
	// CLI, one process per request: about 20 s on a loaded machine, but
	// one run on a slow day took 2 s per aws process and passed 100 s in
	// its last step. The bound is for a hung client, not a slow one.
	compatScriptTimeout = 4 * time.Minute
	// minNodeMajor is the oldest Node.js the locked @aws-sdk/client-s3 supports.
	minNodeMajor = 20
)

// compatClient is one client of the suite and how to run its script.
type compatClient struct {
	name string   // as the script reports it: "cli", "js", "boto3"
	argv []string // the command, run in the compat directory
	env  []string // extra environment
}

func TestClientCompat(t *testing.T) {
	dir, err := filepath.Abs("compat")
	require.NoError(t, err)
	clients := compatClients(t, dir)

	c := startCluster(t)
	endpoint := "http://" + c.layout.S3Addr()
	t.Run("clients", func(t *testing.T) {
		for _, cl := range clients {
			t.Run(cl.name, func(t *testing.T) {
				t.Parallel()
				bucket := "compat-" + cl.name
				out, err := runCompatScript(t, dir, cl, endpoint, bucket)
				t.Logf("%s output:\n%s", cl.name, out)
				require.NoError(t, err, "%s script failed; see its output above", cl.name)
				require.Contains(t, out, "compat: "+cl.name+": all checks passed")
				checkCompatObjects(t, c, cl.name, bucket)
			})
		}
	})
}

// compatClients finds the three clients and fails the test, naming what is
// missing, when one is not installed.
func compatClients(t *testing.T, dir string) []compatClient {
	t.Helper()
	var missing []string
	if _, err := os.Stat(debianAWSCLI); err != nil {
		missing = append(missing, "the AWS CLI ("+debianAWSCLI+", Debian package awscli)")
	}
	if out, err := exec.Command(debianPython, "-c", "import boto3").CombinedOutput(); err != nil {
		missing = append(missing, "boto3 for "+debianPython+" (Debian package python3-boto3): "+strings.TrimSpace(string(out)))
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "Node.js (node on PATH)")
	} else if out, err := exec.Command(node, "--version").Output(); err != nil {
		missing = append(missing, "a working Node.js: "+err.Error())
	} else if major := nodeMajor(string(out)); major < minNodeMajor {
		missing = append(missing, "Node.js "+strconv.Itoa(minNodeMajor)+" or newer (found "+strings.TrimSpace(string(out))+")")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@aws-sdk", "client-s3", "package.json")); err != nil {
		missing = append(missing, "@aws-sdk/client-s3 in compat/node_modules (npm ci)")
	}
	if len(missing) > 0 {
		t.Fatalf("client-compatibility suite: missing %s; run `make deps`", strings.Join(missing, "; "))
	}
	return []compatClient{
		{name: "cli", argv: []string{"bash", "compat.sh"}, env: []string{"AWS_CLI=" + debianAWSCLI}},
		{name: "js", argv: []string{node, "compat.mjs"}},
		{name: "boto3", argv: []string{debianPython, "compat.py"}},
	}
}

// nodeMajor parses the major version out of `node --version` ("v20.11.1").
func nodeMajor(v string) int {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return 0
	}
	return n
}

// runCompatScript runs one client's script against the cluster, bounded by
// compatScriptTimeout, and returns its combined output.
func runCompatScript(t *testing.T, dir string, cl compatClient, endpoint, bucket string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), compatScriptTimeout)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, cl.argv[0], cl.argv[1:]...)
	cmd.Dir = dir
	// A fresh HOME and no inherited AWS_* settings: the user's profiles,
	// regions or endpoints must not change what the clients send.
	cmd.Env = append(environWithout("AWS_", "HOME="),
		"HOME="+home,
		"CAIRN_S3_ENDPOINT="+endpoint,
		"CAIRN_COMPAT_BUCKET="+bucket,
		"AWS_ACCESS_KEY_ID="+testAccessKey,
		"AWS_SECRET_ACCESS_KEY="+testSecretKey,
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE="+filepath.Join(home, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	)
	cmd.Env = append(cmd.Env, cl.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// The scripts start child processes (the CLI once per request); on
	// timeout the whole process group goes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = errors.Join(err, context.Cause(ctx))
	}
	return out.String(), err
}

// environWithout returns the environment minus variables with any of the
// given prefixes.
func environWithout(prefixes ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}

// checkCompatObjects reads back through aws-sdk-go-v2 what a client's script
// wrote, so that the scripts' own checks are not the only witness.
func checkCompatObjects(t *testing.T, c *cluster, client, bucket string) {
	t.Helper()
	ctx := ctxT(t, 30*time.Second)
	head, err := c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("meta.txt")})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"color": "blue", "client": client}, head.Metadata)
	require.Equal(t, "text/plain; charset=utf-8", aws.ToString(head.ContentType))
	require.Equal(t, int64(2*1024*1024+4321), aws.ToInt64(head.ContentLength))

	_, err = c.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("cond.txt")})
	require.NoError(t, err)

	versions, err := c.s3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{
		Bucket: aws.String(bucket + "-versioned"), Prefix: aws.String("doc.bin"),
	})
	require.NoError(t, err)
	require.Len(t, versions.Versions, 2)
	require.True(t, aws.ToBool(versions.Versions[0].IsLatest))
}
