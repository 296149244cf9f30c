package vfs

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// setDirect sets or clears O_DIRECT on f (fcntl F_SETFL may change it on
// an open file).
func setDirect(f *os.File, on bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("vfs: set direct I/O: %w", err)
	}
	var ferr error
	err = rc.Control(func(fd uintptr) {
		fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		if err != nil {
			ferr = err
			return
		}
		want := fl &^ unix.O_DIRECT
		if on {
			want |= unix.O_DIRECT
		}
		if want != fl {
			_, ferr = unix.FcntlInt(fd, unix.F_SETFL, want)
		}
	})
	if err == nil {
		err = ferr
	}
	if err != nil {
		return &os.PathError{Op: "fcntl O_DIRECT", Path: f.Name(), Err: err}
	}
	return nil
}

// SetDirect implements direct I/O for unnamed files.
func (t *tempFile) SetDirect(on bool) error { return setDirect(t.File, on) }
