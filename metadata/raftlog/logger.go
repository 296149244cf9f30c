package raftlog

import (
	"fmt"
	"log/slog"
)

// pebbleLogger adapts Pebble's printf-style logger to slog.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Info(fmt.Sprintf(format, args...))
}

// Fatalf is called by Pebble only for unrecoverable internal states, and
// Pebble's contract is that it does not return: carrying on would risk
// writing a damaged Raft log. It therefore logs and panics; the process
// owner decides whether to crash or recover.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "fatal", true)
	panic("raftlog: pebble: " + msg)
}
