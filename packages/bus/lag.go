package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// LagWatcher measures a consumer group's lag from the broker itself, the
// committed offsets against the end of each partition, so that the figure
// stays true while the consumer is not consuming (restarting, waiting to
// join the group, or cut off from Kafka): a reader's own figure stops
// moving then. The persister and the webhook dispatcher each watch their
// group.
type LagWatcher struct {
	client *kafka.Client
	group  string
	topic  string
	log    *slog.Logger
	lag    atomic.Int64 // -1: unknown
	report func(int64)
	// moved is when the group's committed offsets last changed (unix ns),
	// or when the watcher started; committed is their last sum, once
	// measured.
	moved     atomic.Int64
	committed int64
	measured  bool
}

// NewLagWatcher returns a watcher of group's lag on topic; report (a
// gauge's setter, say) gets each measurement.
func NewLagWatcher(log *slog.Logger, client *kafka.Client, group, topic string, report func(int64)) *LagWatcher {
	w := &LagWatcher{client: client, report: report,
		group: group, topic: topic, log: log}
	w.lag.Store(-1)
	w.moved.Store(time.Now().UnixNano())
	return w
}

// Moved is when the group last committed new offsets (any member), or when
// the watcher was made if it has not since: a group whose lag stays above
// zero while this stands still is not consuming at all.
func (w *LagWatcher) Moved() time.Time { return time.Unix(0, w.moved.Load()) }

// Lag is the last measured lag in records, -1 when unknown.
func (w *LagWatcher) Lag() int64 { return w.lag.Load() }

// Run measures every period until ctx ends.
func (w *LagWatcher) Run(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		n, err := w.measure(ctx)
		if err != nil {
			w.lag.Store(-1)
			w.log.Debug("consumer lag not measured", "err", err)
		} else {
			w.lag.Store(n)
			w.report(n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *LagWatcher) measure(ctx context.Context) (int64, error) {
	meta, err := w.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{w.topic}})
	if err != nil {
		return 0, err
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		return 0, fmt.Errorf("topic %s: no metadata", w.topic)
	}
	var parts []int
	var reqs []kafka.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		parts = append(parts, p.ID)
		reqs = append(reqs, kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
	}
	ends, err := w.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{w.topic: reqs}})
	if err != nil {
		return 0, err
	}
	done, err := w.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: w.group, Topics: map[string][]int{w.topic: parts}})
	if err != nil {
		return 0, err
	}
	committed := map[int]int64{}
	switch {
	case errors.Is(done.Error, kafka.GroupIdNotFound):
		// Not joined yet (some brokers say so, Kafka answers -1s): it
		// committed nothing, and its backlog is the whole topic.
	case done.Error != nil:
		return 0, done.Error
	default:
		for _, p := range done.Topics[w.topic] {
			committed[p.Partition] = p.CommittedOffset
		}
	}
	var lag, sum int64
	for _, c := range committed {
		sum += max(c, 0) // -1: nothing committed, as for a group not joined
	}
	if w.measured && sum != w.committed { // only Run's goroutine measures
		w.moved.Store(time.Now().UnixNano())
	}
	w.committed, w.measured = sum, true
	for _, p := range ends.Topics[w.topic] {
		if p.Error != nil {
			return 0, p.Error
		}
		c, ok := committed[p.Partition]
		if !ok || c < 0 {
			c = p.FirstOffset // nothing committed yet: the reader starts at the first offset
		}
		lag += max(0, p.LastOffset-c)
	}
	return lag, nil
}
