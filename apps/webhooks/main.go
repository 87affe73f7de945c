// Command webhooks delivers every event of a room's log to the room's
// outgoing webhooks (README "Embedding"): a Kafka consumer group of its
// own, so a slow or dead receiver never slows chat; its backlog waits in
// Kafka, seen as the group's lag.
package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/rookery-chat/rookery/apps/webhooks/internal/config"
	"github.com/rookery-chat/rookery/apps/webhooks/internal/dispatch"
	"github.com/rookery-chat/rookery/apps/webhooks/internal/store"
	"github.com/rookery-chat/rookery/packages/bus"
	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/service"
)

func main() {
	service.Main(service.Process[config.Config]{
		Name: "webhooks",
		Load: config.Load,
		Settings: func(c config.Config) service.Settings {
			return service.Settings{Addr: c.HTTPAddr, LogLevel: c.LogLevel, LogFormat: c.LogFormat}
		},
		Run: run,
	})
}

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
	// A new group reads the topic from its start once: a webhook gets only
	// the events after its creation (Hook.Created), and a group that never
	// committed must not skip what came while it was down.
	reader := kfk.GroupReader(log, bus.GroupReaderConfig{Group: cfg.KafkaGroup, Topic: cfg.KafkaTopic,
		MaxBytes: 4 << 20, QueueCapacity: 100})
	lag := bus.NewLagWatcher(log, kfk.Client(5*time.Second), cfg.KafkaGroup, cfg.KafkaTopic, dispatch.ReportLag)
	d := dispatch.New(log, dispatch.Options{Queue: cfg.Queue, MaxPending: cfg.MaxPending, GapWait: cfg.GapWait,
		RetryMin: cfg.RetryMin, RetryMax: cfg.RetryMax, Timeout: cfg.Timeout, Refresh: cfg.Refresh}, store.New(pool), reader)

	mux := service.OpsMux(cfg.Pprof, func(ctx context.Context) []string {
		var failing []string
		if err := pool.Ping(ctx); err != nil || !d.Ready() {
			failing = append(failing, "postgres")
		}
		if err := kfk.Reachable(ctx); err != nil {
			failing = append(failing, "kafka")
		}
		return failing
	})
	log.Info("consuming", "topic", cfg.KafkaTopic, "group", cfg.KafkaGroup)
	// Shutdown order: stop dispatching (in-flight POSTs are cut; their
	// records stay uncommitted and are read again), leave the group, stop
	// serving.
	return service.RunWorker(ctx, log, cfg.HTTPAddr, mux, func(ctx context.Context) error {
		lagDone := make(chan struct{})
		go func() { defer close(lagDone); lag.Run(ctx, 2*time.Second) }()
		defer func() { <-lagDone }()
		return d.Run(ctx)
	}, reader.Close)
}
