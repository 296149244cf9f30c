package main

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// version may be set at build time with -ldflags "-X main.version=...";
// otherwise the module version recorded by the Go toolchain is used.
var version = ""

// versionString reports the module version and the VCS revision the binary
// was built from, as the Go toolchain recorded them: "cairn v1.2.3
// (rev 0123abcd, 2026-12-01T10:00:00Z, modified) go1.26.8".
func versionString() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return describeVersion(version, nil, "")
	}
	return describeVersion(version, info.Settings, info.Main.Version+"\x00"+info.GoVersion)
}

// describeVersion is versionString without the process: main is the
// module version and Go version joined by a NUL byte.
func describeVersion(override string, settings []debug.BuildSetting, main string) string {
	modVersion, goVersion, _ := strings.Cut(main, "\x00")
	v := override
	if v == "" {
		v = modVersion
	}
	if v == "" || v == "(devel)" {
		v = "(devel)"
	}
	var rev, at string
	modified := false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	out := "cairn " + v
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		parts := []string{"rev " + rev}
		if at != "" {
			parts = append(parts, at)
		}
		if modified {
			parts = append(parts, "modified")
		}
		out += fmt.Sprintf(" (%s)", strings.Join(parts, ", "))
	}
	if goVersion != "" {
		out += " " + goVersion
	}
	return out
}
