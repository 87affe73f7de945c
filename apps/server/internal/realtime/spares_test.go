package realtime

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// goid is the calling goroutine's id, from its stack header.
func goid() uint64 {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	id, _ := strconv.ParseUint(string(b[:bytes.IndexByte(b, ' ')]), 10, 64)
	return id
}

// A request goes to a spare that waits, a second one at once to a new
// goroutine, and spares leave when idle past their time or when the hub
// closes.
func TestSparesReuseThenLeave(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var wg sync.WaitGroup
		quit := make(chan struct{})
		s := newSpares(10*time.Second, quit, &wg)
		ids := make(chan uint64, 1)
		run := func() { s.Go(func() { ids <- goid() }) }

		run()
		first := <-ids
		synctest.Wait() // the spare waits for the next request
		run()
		if id := <-ids; id != first {
			t.Fatalf("second request on goroutine %d, not the spare %d", id, first)
		}
		synctest.Wait()
		busy := make(chan struct{})
		s.Go(func() { <-busy }) // takes the spare
		synctest.Wait()
		run()
		second := <-ids
		if second == first {
			t.Fatal("a busy spare took another request")
		}
		close(busy)

		time.Sleep(11 * time.Second) // both idle past their time
		synctest.Wait()
		if left := waited(&wg); !left {
			t.Fatal("idle spares did not leave")
		}

		run() // a new spare, gone when the hub closes
		<-ids
		synctest.Wait()
		close(quit)
		synctest.Wait()
		if left := waited(&wg); !left {
			t.Fatal("a spare outlived the hub")
		}
	})
}

// waited reports whether wg has no goroutines left (every other goroutine
// of the bubble being blocked).
func waited(wg *sync.WaitGroup) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	synctest.Wait()
	select {
	case <-done:
		return true
	default:
		return false
	}
}
