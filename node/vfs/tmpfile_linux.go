package vfs

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// createTemp opens an O_TMPFILE inode in dir. Filesystems without unnamed
// files refuse with EOPNOTSUPP (or, on old kernels, EISDIR or EINVAL).
func createTemp(dir string) (TempFile, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, filePerm)
	if err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL) {
			err = fmt.Errorf("%w: %w", ErrUnsupported, err)
		}
		return nil, &os.PathError{Op: "open O_TMPFILE", Path: dir, Err: err}
	}
	return &tempFile{File: os.NewFile(uintptr(fd), dir), dir: dir}, nil
}

type tempFile struct {
	*os.File
	dir string
}

// Link names the file through /proc/self/fd: linkat with AT_EMPTY_PATH
// would need CAP_DAC_READ_SEARCH, and following the magic link needs no
// privilege. An O_TMPFILE opened without O_EXCL may be linked.
func (t *tempFile) Link(newname string) error {
	rc, err := t.SyscallConn()
	if err != nil {
		return &os.LinkError{Op: "link", Old: t.dir, New: newname, Err: err}
	}
	var linkErr error
	err = rc.Control(func(fd uintptr) {
		linkErr = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(fd)), unix.AT_FDCWD, newname, unix.AT_SYMLINK_FOLLOW)
	})
	if err == nil {
		err = linkErr
	}
	if err != nil {
		return &os.LinkError{Op: "link", Old: t.dir, New: newname, Err: err}
	}
	return nil
}
