package servertest_test

import (
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/rookery-chat/rookery/apps/server/internal/servertest"
)

// TestShutdownTurnsUnreadyFirst: on SIGTERM a server answers /readyz with
// 503 at once while it goes on serving for DRAIN_GRACE (a load balancer's
// probe sees it leave before its listener closes), then drains, and exits 0.
func TestShutdownTurnsUnreadyFirst(t *testing.T) {
	c := servertest.NewCluster(t)
	proc, url := startProcess(t, c, "leaving", "DRAIN_GRACE=3s")
	status := func(path string) int {
		resp, err := http.Get(url + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := status("/readyz"); s != http.StatusOK {
		t.Fatalf("/readyz before: %d", s)
	}
	proc.Signal(syscall.SIGTERM)
	sent := time.Now()
	for status("/readyz") != http.StatusServiceUnavailable {
		if time.Since(sent) > 2*time.Second {
			t.Fatal("/readyz still not 503 two seconds after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond) // polling the process, bounded above
	}
	if s := status("/healthz"); s != http.StatusOK {
		t.Fatalf("during the grace the server stopped serving: /healthz %d", s)
	}
	if s := status("/api/v1/rooms/public"); s != http.StatusUnauthorized {
		t.Fatalf("during the grace the API stopped answering: %d", s)
	}
	select {
	case <-proc.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not exit within 30 s of SIGTERM")
	}
	if took := time.Since(sent); took < 3*time.Second {
		t.Errorf("exited %s after SIGTERM, before its 3 s grace", took)
	}
	if err := proc.Err(); err != nil {
		t.Errorf("exit: %v", err)
	}
}
