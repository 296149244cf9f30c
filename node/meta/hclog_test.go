package meta

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/require"
)

func TestHclogAdapter(t *testing.T) {
	tests := []struct {
		name    string
		log     func(l hclog.Logger)
		want    []string
		notWant []string
	}{
		{name: "info with args", log: func(l hclog.Logger) { l.Info("elected", "term", 3) },
			want: []string{"level=INFO", "msg=elected", "term=3"}},
		{name: "trace is debug", log: func(l hclog.Logger) { l.Trace("tick") },
			want: []string{"level=DEBUG", "msg=tick"}},
		{name: "warn", log: func(l hclog.Logger) { l.Warn("slow") }, want: []string{"level=WARN"}},
		{name: "error", log: func(l hclog.Logger) { l.Error("bad") }, want: []string{"level=ERROR"}},
		{name: "off is dropped", log: func(l hclog.Logger) { l.Log(hclog.Off, "never") }, notWant: []string{"never"}},
		{name: "named and with", log: func(l hclog.Logger) { l.Named("raft").Named("net").With("peer", "m1").Info("hi") },
			want: []string{"logger=raft.net", "peer=m1", "msg=hi"}},
		{name: "reset named", log: func(l hclog.Logger) { l.Named("a").ResetNamed("b").Info("hi") },
			want: []string{"logger=b"}, notWant: []string{"a.b"}},
		{name: "standard logger", log: func(l hclog.Logger) { l.StandardLogger(nil).Print("legacy line") },
			want: []string{"level=INFO", `msg="legacy line"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := newHclog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
			tt.log(l)
			for _, w := range tt.want {
				require.Contains(t, buf.String(), w)
			}
			for _, w := range tt.notWant {
				require.NotContains(t, buf.String(), w)
			}
		})
	}
}

func TestHclogAdapterLevels(t *testing.T) {
	l := newHclog(slog.New(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelWarn})))
	require.False(t, l.IsDebug())
	require.False(t, l.IsInfo())
	require.True(t, l.IsWarn())
	require.True(t, l.IsError())
	require.Equal(t, hclog.Warn, l.GetLevel())
}
