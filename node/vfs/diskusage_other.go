//go:build !(linux || darwin || freebsd)

package vfs

import "os"

func diskUsage(dir string) (capacity, free uint64, err error) {
	return 0, 0, &os.PathError{Op: "statfs", Path: dir, Err: ErrUnsupported}
}
