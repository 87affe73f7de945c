package main

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// bindNoPort lets the kernel choose the source port at connect, against
// the whole four-tuple, instead of at bind (IP_BIND_ADDRESS_NO_PORT): a
// port chosen at bind must be free for the source address alone, which
// brings the search back, one address at a time.
func bindNoPort(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	}); err != nil {
		return err
	}
	return serr
}
