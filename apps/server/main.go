// Command server is a chat server: the HTTP API and WebSocket endpoint of
// shared/PROTOCOL.md. Run several behind a load balancer; they share state
// through PostgreSQL, Redis and Kafka. Configuration is read from the
// environment (see the README).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/rookery-chat/rookery/apps/server/internal/app"
	"github.com/rookery-chat/rookery/apps/server/internal/config"
	"github.com/rookery-chat/rookery/packages/protocol/health"
)

func main() {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if health.Requested() {
		os.Exit(health.Probe(cfg.HTTPAddr))
	}
	log := newLogger(cfg).With("app", "server", "server", cfg.ServerID)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, log, cfg); err != nil {
		log.Error("server failed", "err", err)
		os.Exit(1)
	}
}

func newLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
