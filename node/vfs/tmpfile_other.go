//go:build !linux

package vfs

import "os"

func createTemp(dir string) (TempFile, error) {
	return nil, &os.PathError{Op: "createtemp", Path: dir, Err: ErrUnsupported}
}
