package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/rookery-chat/rookery/packages/db"
)

// runMigrate applies the migrations to DATABASE_URL, or to the local
// cluster's database as recorded in .data/dev.env.
func runMigrate(ctx context.Context, log *slog.Logger) error {
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		env, _ := readEnvFile(devEnvPath)
		url = env["DATABASE_URL"]
	}
	if url == "" {
		return errors.New("migrate: set DATABASE_URL (or start the local cluster with `go tool task dev`)")
	}
	pool, err := db.Open(ctx, url, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := db.Migrate(ctx, pool, log); err != nil {
		return err
	}
	log.Info("database is up to date")
	return nil
}
