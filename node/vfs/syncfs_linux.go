package vfs

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// syncFS flushes the whole filesystem holding dir with syncfs(2).
func syncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	rc, err := d.SyscallConn()
	if err != nil {
		return fmt.Errorf("vfs: syncfs %s: %w", dir, err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Syncfs(int(fd)) }); err != nil {
		return fmt.Errorf("vfs: syncfs %s: %w", dir, err)
	}
	if serr != nil {
		return &os.PathError{Op: "syncfs", Path: dir, Err: serr}
	}
	return nil
}
