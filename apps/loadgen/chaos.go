package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/rookery-chat/rookery/apps/loadgen/internal/chaos"
)

// runChaos is `loadgen chaos`: the fault suite (go tool task chaos). It
// builds the apps, runs every fault against clusters of its own and prints
// the table; it fails when any guarantee broke.
func runChaos(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("chaos", flag.ExitOnError)
	short := fs.Bool("short", false, "the short timing of the test suite")
	only := fs.String("faults", "", "run only these faults (1-based numbers, comma-separated)")
	dir := fs.String("dir", ".data/chaos", "working directory (wiped first)")
	verbose := fs.Bool("v", false, "show the processes' output")
	mode := fs.String("redis", envOr("REDIS_MODE", "single"), "single: each fault on a Redis of its own (the failover fault on a cluster); cluster: every fault on a Redis Cluster")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.RemoveAll(*dir); err != nil {
		return err
	}
	bins, err := buildBins(ctx, *dir)
	if err != nil {
		return err
	}
	faults := chaos.Faults
	if *only != "" {
		faults = nil
		for _, s := range splitComma(*only) {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > len(chaos.Faults) {
				return fmt.Errorf("no fault %q: 1 to %d", s, len(chaos.Faults))
			}
			faults = append(faults, chaos.Faults[n-1])
		}
	}
	if *mode != "single" && *mode != "cluster" {
		return fmt.Errorf("-redis %q: single or cluster", *mode)
	}
	timing := chaos.Full
	if *short {
		timing = chaos.Short
	}
	var out io.Writer = io.Discard
	if *verbose {
		out = os.Stderr
	}
	abs, _ := filepath.Abs(*dir)
	rows, err := chaos.Run(ctx, chaos.Options{
		Bins: bins,
		Dir:  abs, Timing: timing, Senders: 8, Subscribers: 20, Rate: 10, Faults: faults, Out: out, RedisCluster: *mode == "cluster",
		Log: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	})
	chaos.PrintTable(os.Stdout, rows)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if len(r.Violations()) > 0 {
			return fmt.Errorf("guarantees broken under %q: %v", r.Fault, r.Violations())
		}
	}
	return nil
}
