package servertest_test

import (
	"context"
	"net"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
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

func testenvPool(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	p, err := db.Open(testenv.Ctx(t), url, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}
