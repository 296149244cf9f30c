//go:build !linux

package vfs

import "os"

func syncFS(dir string) error {
	if _, err := os.Stat(dir); err != nil {
		return err
	}
	return &os.PathError{Op: "syncfs", Path: dir, Err: ErrUnsupported}
}
