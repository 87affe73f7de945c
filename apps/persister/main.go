// Command persister consumes the chat message log from Kafka and stores it
// in PostgreSQL in batches, committing Kafka offsets only after the rows are
// committed, so that no acknowledged message is lost or stored twice.
package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/rookery-chat/rookery/apps/persister/internal/config"
	"github.com/rookery-chat/rookery/apps/persister/internal/persist"
	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/service"
)

func main() {
	service.Main(service.Process[config.Config]{
		Name: "persister",
		Load: config.Load,
		Settings: func(c config.Config) service.Settings {
			return service.Settings{Addr: c.HTTPAddr, LogLevel: c.LogLevel, LogFormat: c.LogFormat}
		},
		Run: run,
	})
}

// stalledAfter is how long a persister with a backlog may store nothing
// before it reports itself not ready.
const stalledAfter = 10 * time.Second

// renewAfter is how long a persister with a backlog may fetch and store
// nothing, PostgreSQL healthy, before its Kafka reader is replaced.
const renewAfter = 30 * time.Second

func run(ctx context.Context, log *slog.Logger, cfg config.Config) error {
	pool, err := db.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := db.Migrate(ctx, pool, log); err != nil {
		return err
	}
	kfk, err := bus.NewKafka(cfg.KafkaBrokers, cfg.Kafka)
	if err != nil {
		return err
	}
	if cfg.KafkaCreateTopic {
		for _, topic := range []string{cfg.KafkaTopic, cfg.DeadLetterTopic} {
			if err := kfk.EnsureTopic(ctx, topic, cfg.KafkaPartitions); err != nil {
				return err
			}
		}
	}
	// The reader's own queue is bounded; a backlog waits in Kafka.
	reader := persist.NewRenewing(log, func() persist.Reader {
		return kfk.GroupReader(log, bus.GroupReaderConfig{Group: cfg.KafkaGroup, Topic: cfg.KafkaTopic,
			MaxBytes: 16 << 20, QueueCapacity: max(cfg.BatchSize, 100), MinBytes: cfg.FetchMinBytes})
	})
	lag := bus.NewLagWatcher(log, kfk.Client(5*time.Second), cfg.KafkaGroup, cfg.KafkaTopic, persist.ReportLag)
	dlq := &kafka.Writer{Addr: kafka.TCP(cfg.KafkaBrokers...), Topic: cfg.DeadLetterTopic,
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond, Transport: kfk.Transport()}
	p := persist.New(log, persist.Options{BatchSize: cfg.BatchSize, BatchTimeout: cfg.BatchTimeout,
		MaxRowsPerSec: cfg.MaxRowsPerSec, RetryMin: cfg.RetryMin, RetryMax: cfg.RetryMax}, reader, dlq, pool)

	mux := service.OpsMux(cfg.Pprof, func(ctx context.Context) []string {
		var failing []string
		if err := pool.Ping(ctx); err != nil || p.Failing() == "postgres" {
			failing = append(failing, "postgres")
		}
		if err := kfk.Reachable(ctx); err != nil || p.Failing() == "kafka" {
			failing = append(failing, "kafka")
		}
		// Behind, and no batch stored lately: not consuming (waiting to
		// join the group, say), so not ready.
		if n := lag.Lag(); n != 0 && time.Since(p.LastProgress()) > stalledAfter {
			failing = append(failing, "consumer")
		}
		return failing
	})
	log.Info("consuming", "topic", cfg.KafkaTopic, "group", cfg.KafkaGroup)
	// Shutdown order: stop consuming (finishing or abandoning the batch),
	// leave the consumer group, flush dead letters, stop serving.
	return service.RunWorker(ctx, log, cfg.HTTPAddr, mux, func(ctx context.Context) error {
		var watchers sync.WaitGroup
		defer watchers.Wait()
		watchers.Go(func() { lag.Run(ctx, 2*time.Second) })
		// A backlog on the broker, nothing fetched here and nothing
		// committed by any member of the group for renewAfter, PostgreSQL
		// answering: the reader is stuck, and a new one rejoins the group.
		// (A member idle because others hold the partitions, or a sibling
		// that is slow, leaves the group's offsets moving.)
		watchers.Go(func() {
			reader.Watch(ctx, time.Second, renewAfter, func() bool {
				return lag.Lag() > 0 && time.Since(lag.Moved()) > renewAfter && p.Failing() == "" && pool.Ping(ctx) == nil
			})
		})
		return p.Run(ctx)
	}, func() error { return reader.Close(5 * time.Second) }, dlq.Close)
}
