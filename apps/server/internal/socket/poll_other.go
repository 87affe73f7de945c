//go:build !linux

package socket

import (
	"errors"

	"golang.org/x/sys/unix"
)

// poller, where there is no epoll, waits for each idle socket on a
// goroutine of its own through Go's network poller: correct, but an idle
// connection then costs a small goroutine stack.
type poller struct {
	stop chan struct{}
}

type pollEvent struct{}

func newPoller() (*poller, error) { return &poller{stop: make(chan struct{})}, nil }

func (p *poller) watch(c *Conn) error {
	go func() {
		var b [1]byte
		// Peeking first: Go's poller only reports data that arrives after
		// the wait began.
		_ = c.rc.Read(func(fd uintptr) bool {
			_, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
			return !errors.Is(err, unix.EAGAIN)
		})
		if c.ready() {
			c.rd.push(c)
		}
	}()
	return nil
}

func (p *poller) wait(_ []pollEvent, ids []uint64) ([]uint64, bool) {
	<-p.stop
	return ids, true
}

func (p *poller) close() { close(p.stop) }
