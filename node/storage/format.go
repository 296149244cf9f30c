package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"

	"github.com/cairn-io/cairn/node/vfs"
)

// The drive format file. Version 1 carried only the drive ID and was
// written on first open of any directory; version 2 adds the cluster and
// the node the drive belongs to and is written only when a drive is
// formatted explicitly. Bump formatVersion on any change to the file or to
// the drive layout.
const (
	formatFile      = "format.json"
	formatVersion   = 2
	formatVersionV1 = 1
)

// format is the persisted identity of a drive.
type format struct {
	Version   int    `json:"version"`
	ClusterID string `json:"cluster_id,omitempty"`
	DriveID   string `json:"drive_id"`
	NodeID    string `json:"node_id,omitempty"`
}

// Sentinels of drive identity: a node refuses to serve such a drive.
var (
	// ErrUnformatted: the directory has no format file (a new disk, or a
	// mount point whose disk failed to mount).
	ErrUnformatted = errors.New("storage: drive is not formatted")
	// ErrOtherCluster: the drive was formatted for another cluster.
	ErrOtherCluster = errors.New("storage: drive belongs to another cluster")
	// ErrOtherNode: the drive belongs to another node of this cluster (it
	// was moved without being reassigned).
	ErrOtherNode = errors.New("storage: drive belongs to another node")
	// ErrOldFormat: the drive has a format file of version 1, which names
	// no cluster and no node.
	ErrOldFormat = errors.New("storage: drive has a version 1 format without a cluster ID")
)

// FormatOptions say whose drive a directory is, and what may be written to
// make it so.
type FormatOptions struct {
	ClusterID string
	NodeID    string
	// Create formats a directory without a format file, and adopts a
	// version 1 drive (keeping its drive ID, so its shards stay valid).
	Create bool
	// Reassign takes over a drive of another node of the same cluster.
	Reassign bool
}

// decideFormat is the pure decision on a drive's format file: cur is the
// parsed file (nil when there is none) and newID the ID a new drive gets.
// It returns the format the drive must have and whether it must be
// written.
func decideFormat(cur *format, opts FormatOptions, newID string) (format, bool, error) {
	want := format{Version: formatVersion, ClusterID: opts.ClusterID, NodeID: opts.NodeID}
	if cur == nil {
		if !opts.Create {
			return format{}, false, ErrUnformatted
		}
		want.DriveID = newID
		return want, true, nil
	}
	if cur.DriveID == "" {
		return format{}, false, fmt.Errorf("%s: empty drive_id", formatFile)
	}
	want.DriveID = cur.DriveID
	switch cur.Version {
	case formatVersionV1:
		if !opts.Create {
			return format{}, false, ErrOldFormat
		}
		return want, true, nil
	case formatVersion:
	default:
		return format{}, false, fmt.Errorf("%s: unsupported version %d", formatFile, cur.Version)
	}
	if cur.ClusterID != opts.ClusterID {
		return format{}, false, fmt.Errorf("%w: formatted for cluster %q, this is %q", ErrOtherCluster, cur.ClusterID, opts.ClusterID)
	}
	if cur.NodeID != opts.NodeID {
		if !opts.Reassign {
			return format{}, false, fmt.Errorf("%w: formatted for node %q, this is %q", ErrOtherNode, cur.NodeID, opts.NodeID)
		}
		return want, true, nil
	}
	return *cur, false, nil
}

// readFormat returns the drive's format file, or nil when it has none.
func readFormat(fsys vfs.FS, root string) (*format, error) {
	b, err := vfs.ReadFile(fsys, filepath.Join(root, formatFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", formatFile, err)
	}
	var f format
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("parse %s: %w", formatFile, err)
	}
	return &f, nil
}

// FormatDrive gives the directory root the identity in opts, as `cairn
// admin drive format` does on a storage host while the node is stopped. A
// drive that already has that identity is left alone. It returns the
// drive's ID.
func FormatDrive(fsys vfs.FS, root string, opts FormatOptions, log *slog.Logger) (string, error) {
	if opts.ClusterID == "" || opts.NodeID == "" {
		return "", fmt.Errorf("storage: format drive %s: cluster ID and node ID are required", root)
	}
	if fsys == nil {
		fsys = vfs.Default
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &drive{root: root, fs: fsys}
	f, err := d.ensureFormat(opts, log)
	if err != nil {
		return "", fmt.Errorf("storage: format drive %s: %w", root, err)
	}
	return f.DriveID, nil
}

// ensureFormat checks the drive's format file against opts and writes it
// when opts allow and require it.
func (d *drive) ensureFormat(opts FormatOptions, log *slog.Logger) (format, error) {
	cur, err := readFormat(d.fs, d.root)
	if err != nil {
		return format{}, err
	}
	id, err := newID()
	if err != nil {
		return format{}, err
	}
	f, write, err := decideFormat(cur, opts, id)
	if err != nil || !write {
		return f, err
	}
	if err := d.writeFormat(f); err != nil {
		return format{}, err
	}
	log.Info("formatted drive", "drive", d.root, "drive_id", f.DriveID, "cluster_id", f.ClusterID, "owner", f.NodeID, "was_version", formatWas(cur))
	return f, nil
}

func formatWas(cur *format) int {
	if cur == nil {
		return 0
	}
	return cur.Version
}

func (d *drive) writeFormat(f format) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if err := d.fs.MkdirAll(d.path(tmpDir)); err != nil {
		return fmt.Errorf("write %s: %w", formatFile, err)
	}
	tmp := d.path(tmpDir, formatFile)
	// A leftover from a crash during a previous format attempt.
	if err := d.fs.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := writeFileSync(d.fs, tmp, b); err != nil {
		return fmt.Errorf("write %s: %w", formatFile, err)
	}
	if err := d.fs.Rename(tmp, d.path(formatFile)); err != nil {
		return fmt.Errorf("write %s: %w", formatFile, err)
	}
	if err := d.fs.SyncDir(d.root); err != nil {
		return fmt.Errorf("write %s: %w", formatFile, err)
	}
	return nil
}
