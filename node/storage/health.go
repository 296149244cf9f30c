package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-io/cairn/node/vfs"
)

// Defaults of the faulty-drive rule (Config.FaultErrors, FaultWindow).
const (
	DefaultFaultErrors = 3
	DefaultFaultWindow = time.Minute
)

// faultKind says why a drive is faulty, which decides how it recovers.
type faultKind uint8

const (
	faultNone faultKind = iota
	// faultIO: repeated I/O errors. Sticky until the process restarts
	// (operator action): a drive that returned EIO is not trusted again
	// because one check went well.
	faultIO
	// faultCheck: the periodic check found the drive's root, its
	// directories or its format file missing, unreadable or naming another
	// drive. Cleared by the first check that finds them intact again (a
	// drive remounted), because the check then proves the same drive is
	// back.
	faultCheck
)

// health is one drive's fault state. Its lock is a leaf.
type health struct {
	mu     sync.Mutex
	kind   faultKind
	reason string
	// errs holds the times of the latest I/O errors, at most FaultErrors.
	errs []time.Time
}

// faulty reports whether the drive is faulty and why.
func (h *health) faulty() (bool, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.kind != faultNone, h.reason
}

// noteIOError records an I/O error at now. The drive becomes faulty when
// limit errors fall within window; it reports whether this error did it.
func (h *health) noteIOError(now time.Time, err error, limit int, window time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.errs = append(h.errs, now)
	if len(h.errs) > limit {
		h.errs = h.errs[len(h.errs)-limit:]
	}
	if h.kind == faultIO || len(h.errs) < limit || now.Sub(h.errs[0]) > window {
		return false
	}
	h.kind = faultIO
	h.reason = fmt.Sprintf("%d I/O errors within %s, last: %s", limit, window, pathless(err))
	return true
}

// checked records the outcome of a drive check and reports whether the
// drive changed between faulty and healthy.
func (h *health) checked(err error) (changed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err != nil && h.kind == faultNone:
		h.kind, h.reason = faultCheck, err.Error()
		return true
	case err != nil && h.kind == faultCheck:
		h.reason = err.Error()
	case err == nil && h.kind == faultCheck:
		h.kind, h.reason = faultNone, ""
		return true
	}
	return false
}

// isIOError reports whether err says the device failed, as opposed to a
// missing file, a full disk, corruption or a cancelled request.
func isIOError(err error) bool {
	for _, e := range []error{syscall.EIO, syscall.ENXIO, syscall.ENODEV, syscall.EROFS} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// check verifies that the drive is still the one opened: its root and
// directories exist and its format file is readable and names this drive.
// It is cheap (a few stats and one small read), run every heartbeat.
// Its errors name no local path: they become the drive's fault reason in
// the cluster map.
func (d *drive) check() error {
	for _, dir := range []string{"", shardsDir, tmpDir} {
		what := "directory " + dir
		if dir == "" {
			what = "root directory"
		}
		fi, err := d.fs.Stat(d.path(dir))
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("drive check: %s is missing", what)
		}
		if err != nil {
			return fmt.Errorf("drive check: stat %s: %s", what, pathless(err))
		}
		if !fi.IsDir() {
			return fmt.Errorf("drive check: %s is not a directory", what)
		}
	}
	b, err := vfs.ReadFile(d.fs, d.path(formatFile))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("drive check: %s is missing", formatFile)
	}
	if err != nil {
		return fmt.Errorf("drive check: read %s: %s", formatFile, pathless(err))
	}
	var f format
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("drive check: parse %s: %w", formatFile, err)
	}
	if f.Version != formatVersion || f.DriveID != d.id || f.ClusterID != d.clusterID {
		return fmt.Errorf("drive check: %s names drive %q (version %d), want %q", formatFile, f.DriveID, f.Version, d.id)
	}
	return nil
}

// pathless describes err without the path an *fs.PathError carries.
func pathless(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// noteErr feeds an error of an operation on drive d to its fault rule.
func (s *Server) noteErr(d *drive, err error) {
	if d == nil || !isIOError(err) {
		return
	}
	s.met.ioErrors.WithLabelValues(d.id).Inc()
	if d.health.noteIOError(s.cfg.Now(), err, s.cfg.FaultErrors, s.cfg.FaultWindow) {
		_, reason := d.health.faulty()
		s.log.Error("drive faulty: no new shards are written to it", "drive_id", d.id, "reason", reason)
	}
}

// checkDrive runs d's check and logs a change of state.
func (s *Server) checkDrive(d *drive) {
	err := d.check()
	if !d.health.checked(err) {
		return
	}
	if err != nil {
		s.log.Error("drive faulty: no new shards are written to it", "drive_id", d.id, "reason", err.Error())
		return
	}
	s.log.Info("drive recovered: its format file is intact again", "drive_id", d.id)
}

// checkDrives checks every drive; see health.
func (s *Server) checkDrives() {
	for _, id := range s.order {
		s.checkDrive(s.drives[id])
	}
}

// DriveFault reports whether drive id is faulty, and why.
func (s *Server) DriveFault(id string) (bool, string) {
	d, ok := s.drives[id]
	if !ok {
		return false, ""
	}
	return d.health.faulty()
}
