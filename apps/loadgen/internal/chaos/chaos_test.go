package chaos_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/rookery-chat/rookery/apps/loadgen/internal/chaos"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
)

// TestChaosShort is the fault suite at its short timing, on binaries built
// with the race detector: every fault of `go tool task chaos`, each on a
// cluster of its own under steady load, every guarantee checked. With
// TEST_REDIS_MODE=cluster (REDIS_MODE=cluster go tool task test) every
// fault runs on a Redis Cluster.
func TestChaosShort(t *testing.T) {
	bins := chaos.Bins{Server: testenv.BuildApp(t, "server"), Persister: testenv.BuildApp(t, "persister"),
		Devstack: testenv.BuildDevstack(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	// Not t.TempDir: PostgreSQL, running as its own user, must enter it.
	dir, err := os.MkdirTemp("", "rookery-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	var logs bytes.Buffer
	rows, err := chaos.Run(ctx, chaos.Options{Bins: bins, Dir: dir, Timing: chaos.Short,
		Senders: 8, Subscribers: 20, Rate: 10, Faults: chaos.Faults, Out: &logs, RedisCluster: testenv.RedisMode() == "cluster",
		Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	var table bytes.Buffer
	chaos.PrintTable(&table, rows)
	t.Log("\n" + table.String())
	if err != nil {
		t.Fatal(err)
	}
	failed := false
	for _, r := range rows {
		if v := r.Violations(); len(v) > 0 {
			failed = true
			t.Errorf("%s: %v", r.Fault, v)
		}
	}
	if failed {
		t.Logf("processes' output:\n%s", logs.String())
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
