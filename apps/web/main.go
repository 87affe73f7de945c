// Command web serves the chat web client: static assets embedded in the
// binary, and /config.json, which tells the client which chat servers exist.
package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/rookery-chat/rookery/packages/service"
)

//go:embed static
var static embed.FS

// Config is the web app's configuration.
type Config struct {
	HTTPAddr string `env:"HTTP_ADDR" envDefault:":3000"`
	// ServerURLs are the chat servers' public base URLs, as browsers reach them.
	ServerURLs []string `env:"SERVER_URLS" envSeparator:"," envDefault:"http://localhost:8081"`
	LogLevel   string   `env:"LOG_LEVEL" envDefault:"info"`
}

func main() {
	service.Main(service.Process[Config]{
		Name: "web",
		Load: env.ParseAs[Config],
		Settings: func(c Config) service.Settings {
			return service.Settings{Addr: c.HTTPAddr, LogLevel: c.LogLevel}
		},
		Run: run,
	})
}

func run(ctx context.Context, log *slog.Logger, cfg Config) error {
	srv := &http.Server{Addr: cfg.HTTPAddr, Handler: newHandler(cfg), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("listening", "addr", cfg.HTTPAddr, "servers", strings.Join(cfg.ServerURLs, ","))
	select {
	case err := <-errc:
		return fmt.Errorf("http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
