package bus_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/devenv"
	"github.com/rookery-chat/rookery/packages/devenv/testenv"
)

// A partition added to the topic while a group reader runs is read: the
// group rebalances when the partition count changes. Without the watch the
// member keeps its first assignment, and the new partition's records would
// wait for a restart; an assignment made while the topic's partitions were
// unknown is the same case with none to start from.
func TestGroupReaderReadsAddedPartitions(t *testing.T) {
	ctx := testenv.Ctx(t)
	brokers, topic := testenv.Kafka(t, 1)
	k := bus.PlainKafka(strings.Split(brokers, ","))
	r := k.GroupReader(slog.New(slog.DiscardHandler), bus.GroupReaderConfig{Group: testenv.Name("g-"), Topic: topic,
		MaxBytes: 1 << 20, QueueCapacity: 10})
	t.Cleanup(func() { _ = r.Close() })

	produce(ctx, t, brokers, topic, 0, "first")
	first, err := r.FetchMessage(ctx)
	if err != nil || string(first.Value) != "first" {
		t.Fatalf("read %q (%v)", first.Value, err)
	}
	// Committed, or the rebalance below would read it again.
	if err := r.CommitMessages(ctx, first); err != nil {
		t.Fatal(err)
	}
	_, err = k.Client(5*time.Second).CreatePartitions(ctx, &kafka.CreatePartitionsRequest{
		Topics: []kafka.TopicPartitionsConfig{{Name: topic, Count: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	produce(ctx, t, brokers, topic, 2, "on the new partition")
	if got := fetch(ctx, t, r); got != "on the new partition" {
		t.Fatalf("read %q", got)
	}
}

// produce writes value to one partition, with a client of its own so that
// no cached metadata hides a partition just added.
func produce(ctx context.Context, t *testing.T, brokers, topic string, partition int, value string) {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(strings.Split(brokers, ",")...), Timeout: 5 * time.Second, Transport: &kafka.Transport{}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := c.Produce(ctx, &kafka.ProduceRequest{Topic: topic, Partition: partition, RequiredAcks: kafka.RequireAll,
			Records: kafka.NewRecordReader(kafka.Record{Value: kafka.NewBytes([]byte(value))})})
		if err == nil {
			err = res.Error
		}
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("produce to partition %d: %v", partition, err)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(100 * time.Millisecond): // the partition becoming known
		}
	}
}

// fetch is the reader's next record, which must come within 30 s (the
// watch looks every 5 s, then the group rebalances).
func fetch(ctx context.Context, t *testing.T, r *kafka.Reader) string {
	t.Helper()
	fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	m, err := r.FetchMessage(fctx)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	return string(m.Value)
}

// The lag watcher measures a group's backlog from the broker, also before
// any member joined (the whole topic: the persister's stall detection must
// see a member stuck before joining), and Moved changes only when some
// member commits: records waiting do not move it.
func TestLagWatcherSeesBacklogAndCommits(t *testing.T) {
	ctx := testenv.Ctx(t)
	brokers, topic := testenv.Kafka(t, 2)
	k := bus.PlainKafka(strings.Split(brokers, ","))
	group := testenv.Name("g-")
	w := bus.NewLagWatcher(slog.New(slog.DiscardHandler), k.Client(5*time.Second), group, topic, func(int64) {})
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); w.Run(wctx, 20*time.Millisecond) }()
	t.Cleanup(func() { stop(); <-done })
	started := w.Moved()

	produce(ctx, t, brokers, topic, 1, "waiting")
	waitFor(t, func() string { return fmt.Sprintf("a lag of 1 (lag %d)", w.Lag()) }, func() bool { return w.Lag() == 1 })
	if !w.Moved().Equal(started) {
		t.Fatal("Moved changed with nothing committed")
	}
	r := k.GroupReader(slog.New(slog.DiscardHandler), bus.GroupReaderConfig{Group: group, Topic: topic, MaxBytes: 1 << 20, QueueCapacity: 10})
	t.Cleanup(func() { _ = r.Close() })
	m, err := r.FetchMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.CommitMessages(ctx, m); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() string { return fmt.Sprintf("no lag (lag %d) and Moved past its start", w.Lag()) }, func() bool { return w.Lag() == 0 && w.Moved().After(started) })
}

// waitFor polls cond until it holds, failing the test after 20 s.
func waitFor(t *testing.T, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 20 s: %s", what())
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, with a deadline
	}
}

// A broker that stalls for less than a second (a GC pause, busy cores)
// answers a parked fetch late; the reader must wait for it instead of
// dropping the connection ("i/o timeout") and dialling again. With MinBytes
// above the one record in the partition, the record still comes, within
// the broker's FetchWait.
func TestGroupReaderOutlastsShortBrokerStalls(t *testing.T) {
	ctx := testenv.Ctx(t)
	k := testenv.StartKafkaProc(t)
	topic := testenv.Name("t-")
	if err := devenv.CreateTopic(ctx, k.Brokers(), topic, 1); err != nil {
		t.Fatal(err)
	}
	warnings := &warnLog{}
	r := bus.PlainKafka([]string{k.Brokers()}).GroupReader(slog.New(warnings), bus.GroupReaderConfig{
		Group: testenv.Name("g-"), Topic: topic, MaxBytes: 1 << 20, QueueCapacity: 10, MinBytes: 64 << 10})
	t.Cleanup(func() { _ = r.Close() })

	produce(ctx, t, k.Brokers(), topic, 0, "first")
	if got := fetch(ctx, t, r); got != "first" {
		t.Fatalf("read %q", got)
	}
	// The partition is now empty: every fetch parks in the broker for
	// FetchWait. A stall longer than the old margin (62 ms) but shorter than
	// a second, repeated, lands in the middle of several parked fetches.
	for range 5 {
		k.Stall()
		time.Sleep(400 * time.Millisecond) // the fault's length, not a wait for a condition
		k.Resume()
		time.Sleep(300 * time.Millisecond) // a fetch parks between stalls
	}
	produce(ctx, t, k.Brokers(), topic, 0, "after the stalls")
	if got := fetch(ctx, t, r); got != "after the stalls" {
		t.Fatalf("read %q", got)
	}
	if w := warnings.matching("timeout"); len(w) > 0 {
		t.Fatalf("the reader dropped its connection %d times during short stalls: %s", len(w), w[0])
	}
}

// warnLog keeps the messages logged at warn or above.
type warnLog struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (w *warnLog) WithAttrs([]slog.Attr) slog.Handler           { return w }
func (w *warnLog) WithGroup(string) slog.Handler                { return w }
func (w *warnLog) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, r.Message)
	return nil
}

func (w *warnLog) matching(s string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, m := range w.msgs {
		if strings.Contains(m, s) {
			out = append(out, m)
		}
	}
	return out
}
