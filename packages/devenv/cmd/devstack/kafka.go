package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"

	"github.com/rookery-chat/rookery/packages/devenv"
)

// runKafka runs the development Kafka broker (kfake) in this process until
// SIGINT or SIGTERM, so that it can be stalled (SIGSTOP) or killed alone.
// It prints "kafka ready <brokers>" once it listens. With -dir its data
// survives a restart, even after kill -9 (the segments are written as they
// come; only a crash of the machine could lose the last ones).
func runKafka(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("kafka", flag.ContinueOnError)
	port := fs.Int("port", 0, "listen port on 127.0.0.1 (0: any free one)")
	dir := fs.String("dir", "", "data directory (empty: in memory)")
	partitions := fs.Int("partitions", 8, "partitions of auto-created topics")
	if err := fs.Parse(args); err != nil {
		return err
	}
	k, err := devenv.StartKafka(devenv.KafkaOptions{Port: *port, DataDir: *dir, Partitions: *partitions})
	if err != nil {
		return err
	}
	defer k.Close()
	fmt.Printf("kafka ready %s\n", k.Brokers())
	log.Info("kafka (kfake) serving", "brokers", k.Brokers(), "dir", *dir)
	<-ctx.Done()
	return nil
}
