// Package service is what every Rookery process does the same way: read
// its configuration from the environment, answer its own health probe, set
// up its logger, and run until SIGINT or SIGTERM.
package service

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"
)

// Settings are the configuration every process has.
type Settings struct {
	// Addr is the HTTP address the health probe asks.
	Addr string
	// LogLevel is debug, info, warn or error; LogFormat is text or json.
	LogLevel, LogFormat string
	// Attrs are added to every log line (the app's name is already).
	Attrs []any
}

// Process describes one app for Main.
type Process[C any] struct {
	// Name names the app in logs.
	Name string
	// Load reads the configuration.
	Load func() (C, error)
	// Settings picks the shared settings from the configuration.
	Settings func(C) Settings
	// Run runs the app until ctx ends.
	Run func(ctx context.Context, log *slog.Logger, cfg C) error
}

// Main runs p and exits: 2 for a bad configuration, 1 when Run fails, the
// probe's answer when started with HealthFlag.
func Main[C any](p Process[C]) {
	cfg, err := p.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, p.Name+": config:", err)
		os.Exit(2)
	}
	s := p.Settings(cfg)
	if healthRequested() {
		os.Exit(Probe(s.Addr))
	}
	log := Logger(s.LogLevel, s.LogFormat).With(append([]any{"app", p.Name}, s.Attrs...)...)
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	shutdown, err := Tracing(ctx, p.Name, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, p.Name+": config:", err)
		os.Exit(2)
	}
	err = p.Run(ctx, log, cfg)
	// The last spans (the shutdown's own) are flushed within a bound.
	fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if ferr := shutdown(fctx); ferr != nil {
		log.Warn("traces not flushed", "err", ferr)
	}
	cancel()
	if err != nil {
		log.Error(p.Name+" failed", "err", err)
		stop()
		os.Exit(1)
	}
}

// Logger writes to stderr at level ("info" when unknown), as JSON when
// format is "json" and as text otherwise.
func Logger(level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// Vars lists the environment variables a configuration struct reads
// (its caarlos0/env tags), for checking that the docs list every one.
func Vars(cfg any) []string {
	params, err := env.GetFieldParams(cfg)
	if err != nil {
		panic(err)
	}
	out := make([]string, 0, len(params))
	for _, p := range params {
		out = append(out, p.Key)
	}
	return out
}
