package devenv

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// The first ports come from the process's own block, below the kernel's
// ephemeral range, where outgoing connections take theirs.
func TestFreePortsComeFromTheProcessBlock(t *testing.T) {
	ports, err := FreePorts(20)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		if p < portsFrom || p >= portsTo {
			t.Fatalf("port %d outside %d-%d", p, portsFrom, portsTo-1)
		}
	}
}

// The kernel's bind(0) picks at random among ~14,000 loopback ports, so
// 3,000 picks without the bookkeeping repeat some hundreds of times (past
// the process's block, the kernel picks). Runs after the block test,
// which needs the block unused.
func TestFreePortsNeverRepeat(t *testing.T) {
	seen := map[int]bool{}
	for range 1000 {
		one, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		more, err := FreePorts(2)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range append(more, one) {
			if seen[p] {
				t.Fatalf("port %d handed out twice (after %d ports)", p, len(seen))
			}
			seen[p] = true
		}
	}
}

// Two processes that try the same block first get different ones.
func TestProcessesHoldDisjointBlocks(t *testing.T) {
	if b := os.Getenv("ROOKERY_PORTS_FIRST_BLOCK"); b != "" {
		n, _ := strconv.Atoi(b)
		firstBlock = func() int { return n }
		ports, err := FreePorts(3)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("PORTS", ports[0], ports[1], ports[2])
		return
	}
	mine, err := FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	block := (mine[0] - portsFrom) / portBlock
	cmd := exec.Command(os.Args[0], "-test.run=^TestProcessesHoldDisjointBlocks$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ROOKERY_PORTS_FIRST_BLOCK="+strconv.Itoa(block))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	_, after, ok := strings.Cut(string(out), "PORTS ")
	if !ok {
		t.Fatalf("child printed no ports:\n%s", out)
	}
	for _, f := range strings.Fields(after)[:3] {
		p, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		if (p-portsFrom)/portBlock == block {
			t.Fatalf("the child got port %d of this process's block %d", p, block)
		}
	}
}
