// Command devstack runs the chat cluster's local environments:
//
//	devstack dev              the whole cluster on this machine (go tool task dev)
//	devstack test -- CMD...   hermetic PostgreSQL, Redis and Kafka for CMD (go tool task test)
//	devstack migrate          apply the migrations to DATABASE_URL (go tool task migrate)
//	devstack kafka [-port N] [-dir D]  the development Kafka broker alone, in its own process
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("app", "devstack")
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: devstack dev | test -- CMD [ARGS...] | migrate | kafka [-port N] [-dir D]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var (
		code int
		err  error
	)
	switch os.Args[1] {
	case "dev":
		err = runDev(ctx, log)
	case "test":
		code, err = runTest(ctx, log, os.Args[2:])
	case "migrate":
		err = runMigrate(ctx, log)
	case "kafka":
		err = runKafka(ctx, log, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
		code = 2
	}
	if err != nil {
		log.Error("devstack failed", "err", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
