package devenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
)

// handedOut holds every port FreePort and FreePorts returned in this
// process, and next where the next search in this process's block starts.
// The kernel may give a port that was picked and released a moment ago to
// the next bind(0): a chaos stack on a Redis Cluster once got one of its
// servers' ports again for a Redis node, and the server failed to start
// ("server exited before it was ready"). Nothing here hands a port out
// twice.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
	next  int
	base  int      // first port of this process's block; 0: not claimed yet, -1: none to be had
	lock  *os.File // holds the block's lock for the life of the process
}{ports: map[int]bool{}}

// Ports are picked from a block of 128 that this process holds, in
// 10000-31999: below the kernel's ephemeral range (32768-60999 by
// default), so no outgoing connection takes a picked port before the
// server it is for binds it, and apart from the ports of the other test
// processes running at the same time (go test runs packages in parallel),
// whose bind(0) could otherwise get the same port. A block is held with an
// flock on a file in the temporary directory, released when the process
// ends. Below 10000 are the development cluster's fixed ports. A port
// something already listens on is skipped; with the block used up (or
// none free), the kernel picks.
const (
	portsFrom = 10000
	portsTo   = 32000
	portBlock = 128
)

// firstBlock is the block a process tries first (its pid, so that
// processes started together mostly try different ones).
var firstBlock = os.Getpid

// claimBlock returns the first port of a block no other process holds, or
// -1. The caller holds handedOut.
func claimBlock() int {
	n := (portsTo - portsFrom) / portBlock
	for i := range n {
		b := (firstBlock() + i) % n
		f, err := os.OpenFile(filepath.Join(os.TempDir(), "rookery-ports-"+strconv.Itoa(b)+".lock"), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			return -1
		}
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			handedOut.lock = f
			return portsFrom + b*portBlock
		}
		f.Close()
	}
	return -1
}

// FreePort returns a free loopback TCP port that this process has not been
// given before.
func FreePort() (int, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// FreePorts returns n distinct free ports, none returned before in this
// process: every listener stays open until all are chosen.
func FreePorts(n int) ([]int, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	ports := make([]int, 0, n)
	for len(ports) < n {
		l, err := listenNew()
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, p := range ports {
		handedOut.ports[p] = true
	}
	return ports, nil
}

// listenNew listens on a port of this process's block not handed out yet,
// or, the block used up, on one the kernel picks and that was not handed
// out either. The caller holds handedOut.
func listenNew() (net.Listener, error) {
	if handedOut.base == 0 {
		handedOut.base = claimBlock()
	}
	for ; handedOut.base > 0 && handedOut.next < portBlock; handedOut.next++ {
		p := handedOut.base + handedOut.next
		if handedOut.ports[p] {
			continue
		}
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
			handedOut.next++
			return l, nil
		}
	}
	// Bounded: a loopback range has ~28,000 ports, and a test process
	// asks for a few hundred at most.
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for range 1000 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		if !handedOut.ports[l.Addr().(*net.TCPAddr).Port] {
			return l, nil
		}
		held = append(held, l) // kept open, so the kernel offers another
	}
	return nil, fmt.Errorf("free port: no port left that was not handed out already (%d so far)", len(handedOut.ports))
}

// findBinary finds name on PATH or in the given glob directories (the last
// match in sorted order wins, i.e. the highest version).
func findBinary(name string, globs ...string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, g := range globs {
		matches, _ := filepath.Glob(filepath.Join(g, name))
		sort.Strings(matches)
		for i := len(matches) - 1; i >= 0; i-- {
			if st, err := os.Stat(matches[i]); err == nil && !st.IsDir() {
				return matches[i], nil
			}
		}
	}
	return "", fmt.Errorf("%s not found", name)
}
