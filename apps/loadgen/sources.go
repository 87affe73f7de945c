package main

import (
	"context"
	"net"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// loopbackSources is how many source addresses (127.0.0.1 to 127.0.0.N)
// a process's connections to a loopback server are spread over.
//
// Every connection of one source address to one server address needs an
// ephemeral port of its own, and Linux finds one by probing the port range
// from an offset until the four-tuple is free: with 19,000 connections
// from 127.0.0.1 to one server port, two thirds of the range is taken and
// a connecting process spent over half its CPU in that search
// (__inet_check_established and __inet_hash_connect in `perf`), work that
// clients on thousands of machines never do. With the connections spread
// over 32 source addresses each has its own four-tuples, and the first
// port probed is almost always free.
const loopbackSources = 32

var nextSource atomic.Uint32

// dialer is the WebSocket dialer for a server at base: the client's
// default, with connections to a loopback server spread over source
// addresses.
func dialer(base string) *websocket.Dialer {
	d := &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 1024}
	u, err := url.Parse(base)
	if err != nil || !isLoopback(u.Hostname()) {
		return d
	}
	d.NetDialContext = func(ctx context.Context, _, addr string) (net.Conn, error) {
		k := nextSource.Add(1) % loopbackSources
		nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+k))}, Control: bindNoPort}
		return nd.DialContext(ctx, "tcp4", addr)
	}
	return d
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.To4() != nil && ip.IsLoopback()
}
