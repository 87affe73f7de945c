package bus

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// GroupReaderConfig is what differs between the project's consumer groups
// (the persister, the webhook dispatcher).
type GroupReaderConfig struct {
	Group, Topic string
	// MaxBytes bounds one fetch; QueueCapacity the records the reader
	// holds ahead of its consumer (a backlog waits in Kafka).
	MaxBytes, QueueCapacity int
	// MinBytes is what a fetch waits for, up to FetchWait, before the
	// broker answers (at least 1). Above 1, a consumer that is not latency
	// bound (the persister) gets many records per fetch at moderate rates
	// instead of one fetch, and one wake-up of itself and of the broker,
	// per record.
	MinBytes int
}

// FetchWait is how long the broker holds a fetch that has less than
// MinBytes to give: the most a record waits in the broker for its
// consumer, and how often an idle partition is polled.
const FetchWait = 250 * time.Millisecond

// fetchDeadline is the reader's own deadline for a fetch's answer:
// kafka-go asks the broker to answer within MaxWait less one second
// (its assumed round trip, for MaxWait of a second or more), and gives
// up on the connection at MaxWait. With MaxWait set to FetchWait (250 ms)
// it kept only 62 ms for the answer, and a broker late by that much on
// busy cores made the reader drop the connection ("i/o timeout") and
// dial again; this keeps a second.
const fetchDeadline = FetchWait + time.Second

// GroupReader is a consumer-group reader of cfg.Topic. Offsets are
// committed by the caller only (after the work is done), and a new group
// starts at the topic's first offset, so nothing written while no member
// ran is skipped.
//
// The group is watched for partition changes: an assignment made while the
// topic's partitions were unknown (the group's leader read its metadata as
// the topic was being created) is empty, and without the watch it would
// stay empty for the life of the process, the reader waiting forever;
// partitions added by an operator are picked up the same way. kafka-go's
// own logs go to log: joins and assignments at debug, errors at warn.
func (k *Kafka) GroupReader(log *slog.Logger, cfg GroupReaderConfig) *kafka.Reader {
	log = log.With("kafka_group", cfg.Group)
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:        k.brokers,
		Dialer:         k.Dialer(),
		GroupID:        cfg.Group,
		Topic:          cfg.Topic,
		MinBytes:       max(cfg.MinBytes, 1),
		MaxBytes:       cfg.MaxBytes,
		MaxWait:        fetchDeadline,
		CommitInterval: 0, // explicit commits only
		StartOffset:    kafka.FirstOffset,
		QueueCapacity:  cfg.QueueCapacity,
		// A restarted or replaced member gets the partitions of one that
		// died within seconds (the default session is 30 s of silence);
		// one that stops cleanly leaves the group at once (Close).
		SessionTimeout:         6 * time.Second,
		HeartbeatInterval:      time.Second,
		RebalanceTimeout:       5 * time.Second,
		JoinGroupBackoff:       500 * time.Millisecond,
		WatchPartitionChanges:  true,
		PartitionWatchInterval: 5 * time.Second,
		Logger:                 readerLog(log, slog.LevelDebug),
		ErrorLogger:            readerLog(log, slog.LevelWarn),
	})
}

// readerLog adapts kafka-go's printf logger to log at level.
func readerLog(log *slog.Logger, level slog.Level) kafka.Logger {
	return kafka.LoggerFunc(func(format string, args ...any) {
		if !log.Enabled(context.Background(), level) {
			return
		}
		log.Log(context.Background(), level, "kafka reader: "+strings.TrimSpace(fmt.Sprintf(format, args...)))
	})
}
