//go:build linux || darwin || freebsd

package vfs

import (
	"os"
	"syscall"
)

func diskUsage(dir string) (capacity, free uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, &os.PathError{Op: "statfs", Path: dir, Err: err}
	}
	// Bsize is signed on some platforms and unsigned on others.
	bsize := uint64(st.Bsize)
	return uint64(st.Blocks) * bsize, uint64(st.Bavail) * bsize, nil
}
