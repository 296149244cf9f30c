//go:build unix

package main

import "syscall"

// restrictUmask makes every file and directory the process creates private
// to its user (0600 and 0700). Our own storage code asks for those modes,
// but Pebble and Raft create their files through their own filesystem
// layers with 0666 and 0755; the umask is the one place that covers them
// all, including files created by later versions of those libraries.
func restrictUmask() { syscall.Umask(0o077) }
