package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/rookery-chat/rookery/apps/loadgen/internal/stack"
)

// buildBins builds the server, the persister and devstack into dir/bin,
// for the scenarios that start stacks of their own (chaos, scale).
func buildBins(ctx context.Context, dir string) (stack.Bins, error) {
	bin, err := filepath.Abs(filepath.Join(dir, "bin"))
	if err != nil {
		return stack.Bins{}, err
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", bin+"/", "./apps/server", "./apps/persister", "./packages/devenv/cmd/devstack")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return stack.Bins{}, fmt.Errorf("build (run from the repository root): %w", err)
	}
	return stack.Bins{Server: filepath.Join(bin, "server"), Persister: filepath.Join(bin, "persister"),
		Devstack: filepath.Join(bin, "devstack")}, nil
}

// envOr is the environment variable key, or def when it is unset.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
