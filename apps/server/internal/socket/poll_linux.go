//go:build linux

package socket

import (
	"errors"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller watches the served sockets with an epoll instance of its own,
// edge-triggered: a socket is added once and reports each arrival of
// data, so a read costs no system call to re-arm it (Conn.ready folds an
// event that comes while the connection is being read into one more
// turn). An event carries the connection's id, not its descriptor: a
// closed socket's number may already belong to another connection.
//
// The epoll descriptor is itself waited on through Go's network poller,
// so no thread sits blocked in epoll_wait, and an event wakes the poll
// goroutine like any socket wakes its reader.
type poller struct {
	epfd int
	f    *os.File        // epfd, registered with Go's poller
	rc   syscall.RawConn // f's
}

type pollEvent = unix.EpollEvent

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		_ = unix.Close(epfd)
		return nil, err
	}
	f := os.NewFile(uintptr(epfd), "epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &poller{epfd: epfd, f: f, rc: rc}, nil
}

const pollFlags = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET

// watch adds c's socket on its first idle turn; afterwards its events
// keep coming by themselves. It fails once the socket is closed: the raw
// connection holds the descriptor meanwhile, so a number reused by a newer
// socket is never added under c's id.
func (p *poller) watch(c *Conn) error {
	if c.polled {
		return nil
	}
	var cerr error
	err := c.rc.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: pollFlags, Fd: int32(uint32(c.id)), Pad: int32(uint32(c.id >> 32))}
		cerr = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err == nil {
		err = cerr
	}
	if err == nil {
		c.polled = true
	}
	return err
}

// wait parks until some sockets have events and appends their ids; stop
// is true once close was called.
func (p *poller) wait(evs []pollEvent, ids []uint64) ([]uint64, bool) {
	var n int
	var werr error
	err := p.rc.Read(func(fd uintptr) bool {
		n, werr = unix.EpollWait(int(fd), evs, 0)
		if errors.Is(werr, unix.EINTR) {
			n, werr = 0, nil
		}
		return n > 0 || werr != nil // false: park until epfd is readable
	})
	if err != nil || werr != nil {
		return ids, true // closed
	}
	for _, ev := range evs[:n] {
		ids = append(ids, uint64(uint32(ev.Fd))|uint64(uint32(ev.Pad))<<32)
	}
	return ids, false
}

// close ends wait and releases the descriptor.
func (p *poller) close() { _ = p.f.Close() }
