package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromiumPath finds Debian's chromium (installed by make deps).
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// consoleArtifacts is where the console test keeps its screenshots:
// CAIRN_E2E_ARTIFACTS, or the test's temporary directory.
func consoleArtifacts(t *testing.T) string {
	dir := os.Getenv("CAIRN_E2E_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// TestConsoleBrowser drives the web console in headless Chromium against
// a real cluster: sign in as root, create a bucket, upload a file through
// the page, see it listed, download it through the page's link
// byte-identical, and see a stopped storage node shown as down.
func TestConsoleBrowser(t *testing.T) {
	chrome := chromiumPath()
	if chrome == "" {
		if os.Getenv("CI") == "" && os.Getenv("CAIRN_E2E_REQUIRE_CHROMIUM") == "" {
			t.Skip("chromium is not installed (make deps installs it); the console's browser test needs it")
		}
		t.Fatal("chromium is not installed; make deps installs it")
	}
	start := time.Now()
	c := startCluster(t)
	consoleURL := "http://" + c.layout.ConsoleAddr() + "/"
	require.NotEqual(t, "http:///", consoleURL, "the dev layout gives the gateway a console")
	shots := consoleArtifacts(t)
	t.Logf("console %s; screenshots in %s", consoleURL, shots)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	// The first Run starts the browser, and lives as long as its context:
	// no deadline on it, one on every step after.
	require.NoError(t, chromedp.Do(browser, chromedp.Navigate(consoleURL)))
	var shot func(name string)
	step := func(d time.Duration, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, d)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			shot("failed")
			t.Fatalf("browser: %v", err)
		}
	}
	shot = func(name string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, 20*time.Second)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		path := filepath.Join(shots, name+".png")
		require.NoError(t, os.WriteFile(path, png, 0o644))
		t.Logf("screenshot %s", path)
	}

	// A wrong secret is refused on the page.
	fill := func(ak, sk string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
				`document.getElementById("access-key").value = %q; document.getElementById("secret-key").value = %q;`, ak, sk))(ctx, tg)
			return err
		})
	}
	step(20*time.Second,
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		fill(testAccessKey, "wrong-secret"),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
	waitText(t, browser, "#login-error", "InvalidCredentials")
	step(30*time.Second,
		fill(testAccessKey, testSecretKey),
		chromedp.Click(chromedp.CSS("#login-submit")),
		// Root lands on the cluster overview.
		chromedp.WaitVisible(chromedp.CSS("#card-leader")),
		chromedp.WaitVisible(chromedp.CSS(`#nodes tr[data-node="storage-1"]`)),
	)
	shot("1-cluster")

	// Create a bucket.
	const bucket = "console-e2e"
	step(30*time.Second,
		chromedp.Navigate(consoleURL+"#/buckets"),
		chromedp.WaitVisible(chromedp.CSS("#new-bucket")),
		chromedp.SendKeys(chromedp.CSS("#new-bucket"), bucket),
		chromedp.Click(chromedp.CSS("#new-bucket-versioning")),
		chromedp.Click(chromedp.CSS(`#create-bucket button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#buckets tr[data-bucket="`+bucket+`"]`)),
	)
	shot("2-buckets")

	// Upload a file through the page: the XHR streams it through the
	// console into a PutObject.
	data := body(77, 700<<10+13)
	file := filepath.Join(t.TempDir(), "photo 1.bin")
	require.NoError(t, os.WriteFile(file, data, 0o600))
	step(60*time.Second,
		chromedp.Click(chromedp.CSS(`#buckets tr[data-bucket="`+bucket+`"] a`)),
		chromedp.WaitVisible(chromedp.CSS("#upload-file")),
		chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{file}),
		chromedp.Click(chromedp.CSS("#upload-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#uploads .upload.done`)),
		chromedp.WaitVisible(chromedp.CSS(`#objects tr[data-key="photo 1.bin"]`)),
	)
	shot("3-objects")

	// What the gateway stored is the file.
	got, err := c.get(ctxT(t, 30*time.Second), bucket, "photo 1.bin")
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got), "stored object differs from the uploaded file")

	// Download through the page's link, with the page's session cookie.
	ctx, cancel := context.WithTimeout(browser, 30*time.Second)
	b64, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
		const a = document.querySelector('#objects tr[data-key="photo 1.bin"] a.download');
		const r = await fetch(a.href);
		if (!r.ok) throw new Error("download: " + r.status + " " + await r.text());
		const b = new Uint8Array(await r.arrayBuffer());
		let s = "";
		for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode.apply(null, b.subarray(i, i + 8192));
		return btoa(s);
	})()`, chromedp.EvalAwaitPromise))
	cancel()
	require.NoError(t, err)
	down, err := base64.StdEncoding.DecodeString(b64)
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, down), "downloaded %d bytes differ from the %d uploaded", len(down), len(data))

	// A presigned link made by the console works without any session.
	ctx, cancel = context.WithTimeout(browser, 20*time.Second)
	link, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
		const r = await fetch("/api/buckets/console-e2e/presign", {method: "POST",
			headers: {"Content-Type": "application/json", "X-CSRF-Token": session.csrfToken},
			body: JSON.stringify({key: "photo 1.bin", seconds: 600})});
		if (!r.ok) throw new Error("presign: " + r.status + " " + await r.text());
		return (await r.json()).url;
	})()`, chromedp.EvalAwaitPromise))
	cancel()
	require.NoError(t, err)
	client := http.DefaultClient
	if s3TLS() {
		// The gateway serves S3 over HTTPS with a cluster-CA certificate.
		tlsCfg, err := c.procs.Certs().S3TLSConfig()
		require.NoError(t, err)
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	}
	resp, err := client.Get(link)
	require.NoError(t, err)
	viaLink, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", viaLink)
	require.True(t, bytes.Equal(data, viaLink), "the presigned link serves other bytes")

	// A stopped storage node is shown down on the overview, which
	// refreshes itself.
	require.NoError(t, c.procs.StopProc("storage-6", 10*time.Second))
	step(60*time.Second,
		chromedp.Navigate(consoleURL+"#/cluster"),
		chromedp.WaitVisible(chromedp.CSS(`#nodes tr[data-node="storage-6"][data-state="down"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#nodes tr[data-node="storage-1"][data-state="up"]`)),
	)
	shot("4-node-down")

	// A drained node is shown draining, with its row in the drains table
	// (its progress once the repairer has scanned), and the rebalance's
	// state.
	_, err = c.cairnAdmin(ctxT(t, 30*time.Second), "node", "drain", "storage-5")
	require.NoError(t, err)
	step(60*time.Second,
		chromedp.Navigate(consoleURL+"#/cluster"),
		chromedp.WaitVisible(chromedp.CSS(`#nodes tr[data-node="storage-5"][data-state="draining"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#drains tr[data-node="storage-5"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#rebalance[data-running="false"]`)),
	)
	shot("4b-draining")

	// Root creates a user on the users page; signed in as that user, the
	// console shows nothing the user may not see.
	step(30*time.Second,
		chromedp.Navigate(consoleURL+"#/users"),
		chromedp.WaitVisible(chromedp.CSS("#new-user")),
		chromedp.SendKeys(chromedp.CSS("#new-user"), "alice"),
		chromedp.Click(chromedp.CSS(`#new-user ~ button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#new-user-keys .card")),
	)
	ctx, cancel = context.WithTimeout(browser, 10*time.Second)
	keys, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`[...document.querySelectorAll("#new-user-keys .mono")].map(e => e.textContent.split(": ")[1])`))
	cancel()
	require.NoError(t, err)
	require.Len(t, keys, 2)
	step(30*time.Second,
		chromedp.Click(chromedp.CSS("#logout")),
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		fill(keys[0], keys[1]),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#create-bucket")),
	)
	ctx, cancel = context.WithTimeout(browser, 20*time.Second)
	seen, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`(async () => {
		const status = async p => (await fetch(p)).status;
		return {
			buckets: document.querySelectorAll("#buckets tr[data-bucket]").length,
			clusterNav: !document.getElementById("nav-cluster").hidden,
			cluster: await status("/api/cluster"),
			users: await status("/api/users"),
			rootObject: await status("/api/buckets/console-e2e/object?key=" + encodeURIComponent("photo 1.bin")),
			rootListing: await status("/api/buckets/console-e2e/objects"),
		};
	})()`, chromedp.EvalAwaitPromise))
	cancel()
	require.NoError(t, err)
	require.Equal(t, map[string]any{"buckets": 0.0, "clusterNav": false, "cluster": 403.0, "users": 403.0, "rootObject": 403.0, "rootListing": 403.0}, seen)
	shot("5-user")
	t.Logf("console test took %v", time.Since(start).Round(time.Second))
}

// waitText waits until the element's text contains want.
func waitText(t *testing.T, browser context.Context, sel, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(browser, 20*time.Second)
	defer cancel()
	for {
		txt, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err)
		if bytes.Contains([]byte(txt), []byte(want)) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never showed %q (last %q)", sel, want, txt)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
