package meta

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"

	"github.com/cairn-io/cairn/metadata"
	"github.com/cairn-io/cairn/metadata/raftlog"
	"github.com/cairn-io/cairn/proto/metapb"
)

// ErrNotEmpty marks a restore into a data directory that already holds
// meta state.
var ErrNotEmpty = errors.New("meta: data directory is not empty")

// raftKeyCurrentTerm is hashicorp/raft's stable-store key of the current
// term.
const raftKeyCurrentTerm = "CurrentTerm"

// RestoreConfig says where and as what a backup is restored.
type RestoreConfig struct {
	// File is the backup file.
	File string
	// DataDir is the meta data directory of the new group's first voter
	// (the server's <data-dir>/meta); it must not hold meta state.
	DataDir string
	// NodeID and RaftAddr are the first voter's, as it will be started.
	NodeID, RaftAddr string
	// ClusterID, when set, must be the backup's.
	ClusterID string
	Logger    *slog.Logger
}

// Restore prepares DataDir, offline, so that a node started on it is the
// single voter of a new meta group holding the backup's state: the state
// machine restored from the file, and a Raft snapshot at the backup's index
// and term whose configuration is this one voter. The node then starts
// with existing Raft state, so it never bootstraps; add voters afterwards.
// The file is verified completely before anything is written.
func Restore(ctx context.Context, cfg RestoreConfig) (*metapb.BackupHeader, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.NodeID == "" || cfg.DataDir == "" || cfg.RaftAddr == "" {
		return nil, fmt.Errorf("%w: restore needs a node ID, a data dir and a raft address", ErrInvalidConfig)
	}
	if err := checkAdvertisable(cfg.RaftAddr); err != nil {
		return nil, fmt.Errorf("%w: restore: raft address: %v", ErrInvalidConfig, err)
	}
	f, err := os.Open(cfg.File)
	if err != nil {
		return nil, fmt.Errorf("meta: restore: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("meta: restore: %w", err)
	}
	info, err := VerifyBackup(f, st.Size())
	if err != nil {
		return nil, err
	}
	h := info.Header
	if cfg.ClusterID != "" && h.GetClusterId() != cfg.ClusterID {
		return nil, fmt.Errorf("%w: the file is a backup of cluster %q, not %q", ErrForeignBackup, h.GetClusterId(), cfg.ClusterID)
	}
	if h.GetIndex() == 0 || h.GetTerm() == 0 {
		return nil, fmt.Errorf("%w: header has index %d, term %d", ErrBadBackup, h.GetIndex(), h.GetTerm())
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(cfg.DataDir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%w: %s (restore makes a new meta group; give it an empty directory)", ErrNotEmpty, cfg.DataDir)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("meta: restore: %w", err)
	}
	if _, err := f.Seek(info.PayloadOffset, io.SeekStart); err != nil {
		return nil, fmt.Errorf("meta: restore: %w", err)
	}
	if err := restoreInto(cfg, h, io.LimitReader(f, info.PayloadLen)); err != nil {
		return nil, err
	}
	return h, syncDir(filepath.Dir(cfg.DataDir))
}

func restoreInto(cfg RestoreConfig, h *metapb.BackupHeader, payload io.Reader) (err error) {
	fsm, err := metadata.Open(filepath.Join(cfg.DataDir, "fsm"), metadata.Options{Logger: cfg.Logger})
	if err != nil {
		return fmt.Errorf("meta: restore: %w", err)
	}
	defer func() { err = errors.Join(err, fsm.Close()) }()
	if err := fsm.Restore(io.NopCloser(payload)); err != nil {
		return fmt.Errorf("meta: restore: %w", err)
	}
	if fsm.AppliedIndex() != h.GetIndex() {
		return fmt.Errorf("%w: state is at index %d, header says %d", ErrBadBackup, fsm.AppliedIndex(), h.GetIndex())
	}
	// The old group's address book names voters the new group does not
	// have; the new one starts from its flags and AddVoter.
	if err := fsm.ForgetVoters(); err != nil {
		return fmt.Errorf("meta: restore: %w", err)
	}
	logs, err := raftlog.Open(filepath.Join(cfg.DataDir, "raft"), raftlog.Options{Logger: cfg.Logger})
	if err != nil {
		return fmt.Errorf("meta: restore: %w", err)
	}
	defer func() { err = errors.Join(err, logs.Close()) }()
	// Terms never go back: the new group continues from the backup's.
	if err := logs.SetUint64([]byte(raftKeyCurrentTerm), h.GetTerm()); err != nil {
		return fmt.Errorf("meta: restore: set term: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(cfg.DataDir, "snapshots"), snapshotsRetained,
		newHclog(cfg.Logger.With("component", "snapshots")))
	if err != nil {
		return fmt.Errorf("meta: restore: snapshot store: %w", err)
	}
	conf := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(cfg.NodeID), Address: raft.ServerAddress(cfg.RaftAddr)}}}
	_, trans := raft.NewInmemTransport(raft.ServerAddress(cfg.RaftAddr))
	defer trans.Close()
	sink, err := snaps.Create(raft.SnapshotVersionMax, h.GetIndex(), h.GetTerm(), conf, h.GetIndex(), trans)
	if err != nil {
		return fmt.Errorf("meta: restore: create snapshot: %w", err)
	}
	// The Raft snapshot is taken from the restored state machine, so that
	// a voter added later and sent this snapshot gets exactly its state.
	b, err := fsm.NewBackup()
	if err != nil {
		return errors.Join(fmt.Errorf("meta: restore: %w", err), sink.Cancel())
	}
	defer b.Close()
	if err := b.Write(sink); err != nil {
		return errors.Join(fmt.Errorf("meta: restore: write snapshot: %w", err), sink.Cancel())
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("meta: restore: close snapshot: %w", err)
	}
	return nil
}
