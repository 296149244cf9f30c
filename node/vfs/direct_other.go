//go:build !linux

package vfs

import (
	"fmt"
	"os"
)

func setDirect(*os.File, bool) error {
	return fmt.Errorf("vfs: set direct I/O: %w", ErrUnsupported)
}
