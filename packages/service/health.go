package service

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// HealthFlag is the argument that turns an app into its own health probe,
// for container health checks of images that have no shell or curl: the
// app asks its own /healthz and exits.
const HealthFlag = "-healthcheck"

func healthRequested() bool { return len(os.Args) == 2 && os.Args[1] == HealthFlag }

// Probe asks http://<addr>/healthz (a ":port" addr means loopback) and
// returns the process exit code: 0 healthy, 1 not.
func Probe(addr string) int {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + net.JoinHostPort(host, port) + "/healthz")
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "healthcheck:", resp.Status)
		return 1
	}
	return 0
}
