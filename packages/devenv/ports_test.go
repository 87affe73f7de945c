package devenv

import "testing"

// The kernel's bind(0) picks at random among ~14,000 loopback ports, so
// 3,000 picks without the bookkeeping repeat some hundreds of times.
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
