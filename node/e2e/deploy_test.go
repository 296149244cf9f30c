package e2e

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// repoRoot is the repository's top directory (this package is node/e2e).
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// invocation is one `cairn ...` command line found in a deployment file.
type invocation struct {
	where string
	args  []string // after the binary: subcommand words, then flags
}

// subcommand is the words before the first flag ("server", "admin ca init").
func (inv invocation) subcommand() []string {
	var words []string
	for _, a := range inv.args {
		if strings.HasPrefix(a, "-") {
			break
		}
		words = append(words, a)
	}
	return words
}

// flags are the names of the flags given ("--node-id=x" and "--node-id x").
func (inv invocation) flags() []string {
	var names []string
	for _, a := range inv.args {
		if name, ok := strings.CutPrefix(a, "--"); ok {
			name, _, _ = strings.Cut(name, "=")
			names = append(names, name)
		}
	}
	return names
}

var flagLine = regexp.MustCompile(`^\s+-([a-z0-9-]+)`)

// knownFlags runs `cairn <words> -h` and returns the flags it lists.
func knownFlags(t *testing.T, cache map[string]map[string]bool, words []string) map[string]bool {
	t.Helper()
	key := strings.Join(words, " ")
	if f, ok := cache[key]; ok {
		return f
	}
	out, err := exec.Command(cairnBin, append(append([]string{}, words...), "-h")...).CombinedOutput()
	require.NoError(t, err, "cairn %s -h: %s", key, out)
	f := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := flagLine.FindStringSubmatch(sc.Text()); m != nil {
			f[m[1]] = true
		}
	}
	require.NotEmpty(t, f, "cairn %s -h listed no flags: %s", key, out)
	cache[key] = f
	return f
}

// envFlag maps CAIRN_NODE_ID to node-id: every flag is also an
// environment variable.
func envFlag(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "CAIRN_")
	if !ok {
		return "", false
	}
	return strings.ReplaceAll(strings.ToLower(rest), "_", "-"), true
}

func readYAMLDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if err != nil {
			require.EqualError(t, err, "EOF", "%s does not parse", path)
			break
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
	require.NotEmpty(t, docs, path)
	return docs
}

func strList(t *testing.T, v any, what string) []string {
	t.Helper()
	list, ok := v.([]any)
	require.True(t, ok, "%s: want a list, got %T", what, v)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, ok := x.(string)
		require.True(t, ok, "%s: want strings, got %T", what, x)
		out = append(out, s)
	}
	return out
}

func mapOf(v any) map[string]any { m, _ := v.(map[string]any); return m }

func listOf(v any) []map[string]any {
	var out []map[string]any
	for _, x := range asList(v) {
		if m := mapOf(x); m != nil {
			out = append(out, m)
		}
	}
	return out
}

func asList(v any) []any { l, _ := v.([]any); return l }

// TestDeployFiles checks the deployment files against the binary they
// deploy: every flag, environment variable and configuration key they use
// exists in the command it is given to, the manifests parse and refer only
// to what they define, and the image's build command builds a static
// binary.
func TestDeployFiles(t *testing.T) {
	root := repoRoot(t)
	deploy := filepath.Join(root, "deploy")
	cache := map[string]map[string]bool{}
	var invs []invocation
	envs := map[string]string{} // CAIRN_* name -> where

	t.Run("example config", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(deploy, "cairn.example.yaml"))
		require.NoError(t, err)
		var cfg map[string]any
		require.NoError(t, yaml.Unmarshal(b, &cfg))
		server := knownFlags(t, cache, []string{"server"})
		for k := range cfg {
			require.True(t, server[k], "cairn.example.yaml: key %q is not a flag of cairn server", k)
		}
	})

	t.Run("Dockerfile", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(deploy, "Dockerfile"))
		require.NoError(t, err)
		text := string(b)
		gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
		require.NoError(t, err)
		goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(string(gomod))
		require.NotNil(t, goVersion)
		require.Contains(t, text, "FROM golang:"+goVersion[1], "the build stage uses go.mod's Go")
		require.Contains(t, text, "CGO_ENABLED=0", "a static binary")
		require.Regexp(t, `(?m)^FROM \S+ AS build$`, text)
		require.Regexp(t, `(?m)^COPY --from=build /out/cairn /usr/local/bin/cairn$`, text)
		for _, m := range regexp.MustCompile(`(?m)^COPY (\S+) \./`).FindAllStringSubmatch(text, -1) {
			_, err := os.Stat(filepath.Join(root, m[1]))
			require.NoError(t, err, "Dockerfile copies %s", m[1])
		}
		entry := regexp.MustCompile(`(?m)^CMD \[(.*)\]$`).FindStringSubmatch(text)
		require.NotNil(t, entry, "a default CMD")
		var args []string
		for _, a := range strings.Split(entry[1], ",") {
			args = append(args, strings.Trim(strings.TrimSpace(a), `"`))
		}
		invs = append(invs, invocation{"Dockerfile CMD", args})
	})

	t.Run("static build", func(t *testing.T) {
		// The Dockerfile builds with CGO_ENABLED=0 for distroless/static:
		// every package the binary needs must build without cgo, and
		// nothing may pull in runtime/cgo. (go list resolves the build
		// without compiling it.)
		cmd := exec.Command("go", "list", "-e", "-deps", "-f", "{{.ImportPath}}\t{{if .Error}}{{.Error}}{{end}}", "./cmd/cairn")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		b, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", b)
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			pkg, perr, _ := strings.Cut(line, "\t")
			require.Empty(t, perr, "%s does not build without cgo", pkg)
			require.NotEqual(t, "runtime/cgo", pkg)
		}
	})

	t.Run("compose", func(t *testing.T) {
		docs := readYAMLDocs(t, filepath.Join(deploy, "compose", "compose.yaml"))
		services := mapOf(docs[0]["services"])
		require.Len(t, services, 3, "three hosts")
		volumes := mapOf(docs[0]["volumes"])
		for name, v := range services {
			svc := mapOf(v)
			args := strList(t, svc["command"], "compose "+name+" command")
			invs = append(invs, invocation{"compose " + name, args})
			for k := range mapOf(svc["environment"]) {
				envs[k] = "compose " + name
			}
			hc := strList(t, mapOf(svc["healthcheck"])["test"], "compose healthcheck")
			require.Equal(t, "/usr/local/bin/cairn", hc[1])
			invs = append(invs, invocation{"compose " + name + " healthcheck", hc[2:]})
			for _, m := range strList(t, svc["volumes"], "compose volumes") {
				src, _, _ := strings.Cut(m, ":")
				if !strings.HasPrefix(src, ".") {
					require.Contains(t, volumes, src, "compose %s mounts an undeclared volume", name)
				}
			}
		}
	})

	t.Run("kubernetes", func(t *testing.T) {
		docs := readYAMLDocs(t, filepath.Join(deploy, "kubernetes", "cairn.yaml"))
		kinds := map[string]int{}
		configMaps := map[string]bool{}
		for _, d := range docs {
			kind, _ := d["kind"].(string)
			require.NotEmpty(t, d["apiVersion"])
			require.NotEmpty(t, mapOf(d["metadata"])["name"], kind)
			kinds[kind]++
			if kind == "ConfigMap" {
				configMaps[mapOf(d["metadata"])["name"].(string)] = true
				for k := range mapOf(d["data"]) {
					envs[k] = "ConfigMap"
				}
			}
		}
		require.Equal(t, 2, kinds["StatefulSet"], "meta and storage")
		require.Equal(t, 1, kinds["Deployment"], "gateways")
		require.GreaterOrEqual(t, kinds["Service"], 3)
		for _, d := range docs {
			kind := d["kind"].(string)
			if kind != "StatefulSet" && kind != "Deployment" {
				continue
			}
			name := mapOf(d["metadata"])["name"].(string)
			spec := mapOf(d["spec"])
			tmpl := mapOf(spec["template"])
			require.Equal(t, mapOf(spec["selector"])["matchLabels"], mapOf(tmpl["metadata"])["labels"], "%s selects its pods", name)
			pod := mapOf(tmpl["spec"])
			vols := map[string]bool{}
			for _, v := range listOf(pod["volumes"]) {
				vols[v["name"].(string)] = true
			}
			for _, v := range listOf(spec["volumeClaimTemplates"]) {
				vols[mapOf(v["metadata"])["name"].(string)] = true
			}
			for _, c := range listOf(pod["containers"]) {
				where := "kubernetes " + name
				defined := map[string]bool{}
				for _, e := range listOf(c["env"]) {
					defined[e["name"].(string)] = true
					envs[e["name"].(string)] = where
				}
				for _, ef := range listOf(c["envFrom"]) {
					ref := mapOf(ef["configMapRef"])["name"].(string)
					require.True(t, configMaps[ref], "%s: envFrom names ConfigMap %q, not defined", where, ref)
				}
				args := strList(t, c["args"], where+" args")
				for _, a := range args {
					for _, m := range regexp.MustCompile(`\$\((\w+)\)`).FindAllStringSubmatch(a, -1) {
						require.True(t, defined[m[1]], "%s: $(%s) is not in the container's env", where, m[1])
					}
				}
				invs = append(invs, invocation{where, args})
				ports := map[string]bool{}
				for _, p := range listOf(c["ports"]) {
					ports[p["name"].(string)] = true
				}
				for _, probe := range []string{"livenessProbe", "readinessProbe"} {
					get := mapOf(mapOf(c[probe])["httpGet"])
					require.NotNil(t, get, "%s: %s", where, probe)
					require.Contains(t, []string{"/healthz", "/readyz"}, get["path"], "%s: %s", where, probe)
					require.True(t, ports[get["port"].(string)], "%s: %s port", where, probe)
				}
				for _, vm := range listOf(c["volumeMounts"]) {
					require.True(t, vols[vm["name"].(string)], "%s mounts undefined volume %v", where, vm["name"])
				}
			}
		}
	})

	t.Run("systemd", func(t *testing.T) {
		units, err := filepath.Glob(filepath.Join(deploy, "systemd", "*.service"))
		require.NoError(t, err)
		require.NotEmpty(t, units)
		for _, u := range units {
			b, err := os.ReadFile(u)
			require.NoError(t, err)
			text := string(b)
			base := filepath.Base(u)
			require.Contains(t, text, "\nType=notify\n", "%s: readiness through sd_notify", base)
			m := regexp.MustCompile(`(?m)^ExecStart=/usr/local/bin/cairn (.*)$`).FindStringSubmatch(text)
			require.NotNil(t, m, base)
			invs = append(invs, invocation{base, strings.Fields(m[1])})
		}
	})

	t.Run("make-certs.sh", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(deploy, "make-certs.sh"))
		require.NoError(t, err)
		for _, line := range strings.Split(string(b), "\n") {
			_, rest, ok := strings.Cut(line, `"$cairn" `)
			if !ok {
				continue
			}
			invs = append(invs, invocation{"make-certs.sh", strings.Fields(rest)})
		}
		require.Len(t, invs[len(invs)-3:], 3)
	})

	t.Run("flags exist", func(t *testing.T) {
		require.NotEmpty(t, invs)
		for _, inv := range invs {
			words := inv.subcommand()
			require.NotEmpty(t, words, "%s: no subcommand", inv.where)
			known := knownFlags(t, cache, words)
			for _, f := range inv.flags() {
				require.True(t, known[f], "%s: cairn %s has no flag --%s", inv.where, strings.Join(words, " "), f)
			}
		}
		server := knownFlags(t, cache, []string{"server"})
		var names []string
		for name := range envs {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if flag, ok := envFlag(name); ok {
				require.True(t, server[flag], "%s sets %s, but cairn server has no --%s", envs[name], name, flag)
			}
		}
	})
}
