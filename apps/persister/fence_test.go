package main_test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
)

// TestFencedEpochIsNotStored: a message of an epoch that comes after that
// epoch's fence record in the log is never stored (its send was refused),
// one that came before it is, and the fence is stored as a fence row.
func TestFencedEpochIsNotStored(t *testing.T) {
	f := newFixture(t, testenv.DatabaseURL(t))
	p := bus.NewProducer(bus.ProducerConfig{Kafka: bus.PlainKafka(strings.Split(f.brokers, ",")), Topic: f.topic})
	defer p.Close()
	ctx := testenv.Ctx(t)
	e2 := bus.EpochBase(2)
	for _, step := range []func() error{
		func() error { return p.Produce(ctx, f.msg(1)) },
		func() error { return p.Produce(ctx, f.msg(2)) },
		func() error { return p.ProduceFence(ctx, f.room.String(), e2+1) },
		func() error { return p.Produce(ctx, f.msg(3)) }, // late: epoch 1 was fenced
		func() error { return p.Produce(ctx, f.msg(int(e2+2))) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	_, base := f.startAt(t, "persister", "BATCH_TIMEOUT=10ms")
	f.waitCount(t, 3, time.Minute)
	rows, err := f.pool.Query(ctx, "SELECT seq, fence FROM messages WHERE room_id = $1 ORDER BY seq", f.room)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var seq int64
		var fence bool
		if err := rows.Scan(&seq, &fence); err != nil {
			t.Fatal(err)
		}
		s := "m"
		if fence {
			s = "f"
		}
		got = append(got, fmt.Sprintf("%s%d/e%d", s, seq-bus.EpochBase(bus.EpochOf(seq)), bus.EpochOf(seq)))
	}
	rows.Close()
	if strings.Join(got, " ") != "m1/e1 m2/e1 f1/e2 m2/e2" {
		t.Fatalf("stored %v", got)
	}
	if n := metric(t, base, "rookery_persister_fenced_out_total"); n != 1 {
		t.Fatalf("fenced out %v records, want 1", n)
	}
	if n := metric(t, base, "rookery_persister_dead_lettered_total"); n != 0 {
		t.Fatalf("dead-lettered %v records, want 0", n)
	}
}

// TestRestartReportsItsState: a persister started while the group still
// holds the partitions for a member killed with -9 is not ready and shows
// the backlog until it consumes; it gets the partitions within seconds
// (a 6 s session, not 30), stores everything, and is then ready with no lag.
func TestRestartReportsItsState(t *testing.T) {
	f := newFixture(t, testenv.DatabaseURL(t))
	const n = 300
	f.produce(t, 1, n)
	p1 := f.start(t, "persister-1", "MAX_ROWS_PER_SEC=50", "BATCH_SIZE=10", "BATCH_TIMEOUT=10ms")
	f.waitCount(t, 20, time.Minute)
	p1.Signal(syscall.SIGKILL)
	<-p1.Done()
	started := time.Now()
	_, base := f.startAt(t, "persister-2", "BATCH_TIMEOUT=10ms")
	waitStatus(t, base+"/readyz", 503, 10*time.Second)
	if lag := waitMetric(t, base, "rookery_persister_consumer_lag", func(v float64) bool { return v > 0 }); lag <= 0 {
		t.Fatalf("lag %v while the backlog waits", lag)
	}
	f.waitCount(t, n, 20*time.Second)
	t.Logf("backlog stored %.1f s after the restart", time.Since(started).Seconds())
	waitStatus(t, base+"/readyz", 200, 10*time.Second)
	waitMetric(t, base, "rookery_persister_consumer_lag", func(v float64) bool { return v == 0 })
	f.checkExactlyOnce(t, n)
}

// waitMetric polls a metric until ok holds (10 s at most) and returns it.
func waitMetric(t *testing.T, base, name string, ok func(float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := metric(t, base, name)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after 10 s", name, v)
		}
		time.Sleep(100 * time.Millisecond) // poll interval, bounded by deadline
	}
}
