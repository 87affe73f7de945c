package realtime_test

import (
	"context"
	"net"
	"strconv"
)

type netConn = net.Conn

// dialSmall dials TCP with a small receive buffer (still above the loopback
// MSS, or TCP stalls in silly-window avoidance), so a client that stops
// reading pushes back on the server quickly.
func dialSmall(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	_ = c.(*net.TCPConn).SetReadBuffer(256 << 10)
	return c, nil
}

func itoa(i int) string { return strconv.Itoa(i) }
