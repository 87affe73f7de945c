package devenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
)

// handedOut holds every port FreePort and FreePorts returned in this
// process. The kernel may give a port that was picked and released a moment
// ago to the next bind(0): a chaos stack on a Redis Cluster once got one of
// its servers' ports again for a Redis node, and the server failed to start
// ("server exited before it was ready"). Nothing here hands a port out twice.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePort asks the kernel for a free loopback TCP port that this process
// has not been given before.
func FreePort() (int, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// FreePorts returns n distinct free ports, none returned before in this
// process: every listener stays open until all are chosen, so the kernel
// offers another port in place of one already handed out.
func FreePorts(n int) ([]int, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	ports := make([]int, 0, n)
	// Bounded: a loopback range has ~28,000 ports, and a test process
	// asks for a few hundred at most.
	for tries := 0; len(ports) < n; tries++ {
		if tries >= n+1000 {
			return nil, fmt.Errorf("free port: no port left that was not handed out already (%d so far)", len(handedOut.ports))
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		defer l.Close()
		p := l.Addr().(*net.TCPAddr).Port
		if handedOut.ports[p] {
			continue
		}
		ports = append(ports, p)
	}
	for _, p := range ports {
		handedOut.ports[p] = true
	}
	return ports, nil
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
