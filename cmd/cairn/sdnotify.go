package main

import (
	"fmt"
	"net"
	"os"
)

// sdNotify tells systemd about the process's state (a unit with
// Type=notify counts as started on "READY=1"): one datagram to the socket
// named in NOTIFY_SOCKET. Without that variable (not under systemd, or a
// unit of another type) it does nothing. The protocol is one sendto, so it
// is written here rather than taken from a library.
func sdNotify(state string) error {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return nil
	}
	if addr[0] == '@' {
		// An abstract socket: the name starts with a NUL byte.
		addr = "\x00" + addr[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}
