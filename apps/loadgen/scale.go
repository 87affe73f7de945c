package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rookery-chat/rookery/apps/loadgen/internal/stack"
	"github.com/rookery-chat/rookery/packages/devenv"
)

// ScaleResult is one configuration of the scale bench: many connections in
// many rooms, everyone's messages delivered to their room, on stacks of
// different sizes.
type ScaleResult struct {
	Scenario      string      `json:"scenario"`
	Config        string      `json:"config"`
	Servers       int         `json:"servers"`
	RedisMasters  int         `json:"redis_masters"`
	Connections   int         `json:"connections"`
	Rooms         int         `json:"rooms"`
	Rate          float64     `json:"rate_msgs_per_s"`
	Duration      float64     `json:"duration_s"`
	Sent          int64       `json:"sent"`
	Acked         int64       `json:"acked"`
	Errors        int64       `json:"errors"`
	Expected      int64       `json:"expected_deliveries"`
	Delivered     int64       `json:"delivered"`
	DeliveryRatio float64     `json:"delivery_ratio"`
	Latency       Percentiles `json:"latency"`
	AckLatency    Percentiles `json:"ack_latency"`
	Closed        int64       `json:"closed_by_server"`
	// RedisCmds is commands/s on each Redis master while sending;
	// RedisSpread the largest distance of one from their mean, as a
	// fraction of the mean.
	RedisCmds   []float64 `json:"redis_cmds_per_s_per_master"`
	RedisSpread float64   `json:"redis_spread"`
	// RedisPerMsg is each Redis command's calls per acknowledged message,
	// over every master.
	RedisPerMsg map[string]float64 `json:"redis_calls_per_msg"`
	// CPU is CPU time per acknowledged message, in µs, by role.
	CPU map[string]float64 `json:"cpu_us_per_msg"`
}

// scaleConfig is one stack the bench runs.
type scaleConfig struct {
	name    string
	servers int
	cluster bool
}

// runScale is `loadgen scale`: the same load on 2 servers over one Redis
// and on 4 servers over a Redis Cluster of 3 masters, each a stack of its
// own started here, one after the other, on its own database of one
// PostgreSQL.
func runScale(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("scale", flag.ExitOnError)
	conns := fs.Int("c", 5000, "connections")
	rooms := fs.Int("rooms", 500, "rooms; each gets connections/rooms of them")
	perUser := fs.Int("per-user", 5, "connections per account (one room each)")
	rate := fs.Float64("rate", 500, "messages per second in total, spread evenly over the rooms")
	dur := fs.Duration("d", 30*time.Second, "duration of sending")
	dir := fs.String("dir", ".data/scale", "working directory (wiped first)")
	only := fs.String("configs", "single,cluster", "which stacks: single (2 servers, 1 Redis), cluster (4 servers, 3 Redis masters)")
	verbose := fs.Bool("v", false, "show the processes' output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *conns < *rooms || *conns%*rooms != 0 {
		return fmt.Errorf("-c %d must be a multiple of -rooms %d", *conns, *rooms)
	}
	if *dur > 5*time.Minute || *rate <= 0 {
		return fmt.Errorf("-d is capped at 5m and -rate must be positive")
	}
	var configs []scaleConfig
	for _, name := range splitComma(*only) {
		switch name {
		case "single":
			configs = append(configs, scaleConfig{"2 servers, 1 Redis", 2, false})
		case "cluster":
			configs = append(configs, scaleConfig{"4 servers, Redis Cluster (3 masters + 3 replicas)", 4, true})
		default:
			return fmt.Errorf("-configs: no %q (single, cluster)", name)
		}
	}
	if err := os.RemoveAll(*dir); err != nil {
		return err
	}
	bins, err := buildBins(ctx, *dir)
	if err != nil {
		return err
	}
	var out io.Writer = io.Discard
	if *verbose {
		out = os.Stderr
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	port, err := devenv.FreePort()
	if err != nil {
		return err
	}
	_ = os.Chmod(abs, 0o755) // PostgreSQL runs as its own user
	pg, err := devenv.StartPostgres(ctx, filepath.Join(abs, "pg"), port, devenv.PostgresOptions{Fast: true, Out: out})
	if err != nil {
		return err
	}
	defer pg.Kill()
	var results []ScaleResult
	for i, cfg := range configs {
		fmt.Fprintf(os.Stderr, "scale: %s: starting\n", cfg.name)
		// A database of its own: on the last stack's rooms a fresh Redis
		// would start every room's new epoch at once, a recovery and not
		// the steady state measured here.
		db := fmt.Sprintf("scale_%d", i)
		if err := pg.CreateDatabase(ctx, db); err != nil {
			return err
		}
		load := scaleLoad{conns: *conns, rooms: *rooms, perUser: *perUser, rate: *rate, dur: *dur}
		st, err := stack.Start(ctx, stack.Spec{Bins: bins, Dir: filepath.Join(abs, fmt.Sprintf("stack-%d", i)), Out: out,
			PG: pg, DBURL: pg.URL(db), Servers: cfg.servers, RedisCluster: cfg.cluster, Partitions: 8,
			Settings: []string{"SEND_RATE=100", "SEND_BURST=200"}})
		if err != nil {
			return fmt.Errorf("%s: %w", cfg.name, err)
		}
		res, err := load.run(ctx, st, cfg)
		st.Stop()
		if err != nil {
			return fmt.Errorf("%s: %w", cfg.name, err)
		}
		emitJSON(res)
		results = append(results, res)
	}
	printScale(os.Stdout, results)
	return nil
}

// redisStats is, for each master, total_commands_processed, and the
// calls of each command summed over the masters.
func redisStats(ctx context.Context, addrs []string) ([]int64, map[string]int64, error) {
	totals := make([]int64, len(addrs))
	calls := map[string]int64{}
	for i, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		info, err := c.Info(ctx, "stats", "commandstats").Result()
		c.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("redis %s: %w", a, err)
		}
		for _, l := range strings.Split(info, "\n") {
			l = strings.TrimSpace(l)
			if v, ok := strings.CutPrefix(l, "total_commands_processed:"); ok {
				_, _ = fmt.Sscan(v, &totals[i])
			}
			// cmdstat_evalsha:calls=12,usec=...
			if name, rest, ok := strings.Cut(strings.TrimPrefix(l, "cmdstat_"), ":calls="); ok && strings.HasPrefix(l, "cmdstat_") {
				var n int64
				_, _ = fmt.Sscan(strings.SplitN(rest, ",", 2)[0], &n)
				calls[name] += n
			}
		}
	}
	return totals, calls, nil
}

// spread is the largest distance of one of xs from their mean, as a
// fraction of the mean.
func spread(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	if mean == 0 {
		return 0
	}
	worst := 0.0
	for _, x := range xs {
		worst = max(worst, abs(x-mean)/mean)
	}
	return worst
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func printScale(w io.Writer, rs []ScaleResult) {
	if len(rs) == 0 {
		return
	}
	host, _ := os.Hostname()
	fmt.Fprintf(w, "\nscale bench, %s, host %s, %s: %d connections in %d rooms, %.0f msg/s for %.0f s\n",
		time.Now().UTC().Format("2006-01-02"), host, cpuModel(), rs[0].Connections, rs[0].Rooms, rs[0].Rate, rs[0].Duration)
	fmt.Fprintf(w, "| %-34s |", "")
	for _, r := range rs {
		fmt.Fprintf(w, " %s |", r.Config)
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---|", len(rs)))
	row := func(name string, f func(r ScaleResult) string) {
		fmt.Fprintf(w, "| %-34s |", name)
		for _, r := range rs {
			fmt.Fprintf(w, " %s |", f(r))
		}
		fmt.Fprintln(w)
	}
	row("acked / sent (errors)", func(r ScaleResult) string { return fmt.Sprintf("%d / %d (%d)", r.Acked, r.Sent, r.Errors) })
	row("delivery ratio", func(r ScaleResult) string { return fmt.Sprintf("%.4f", r.DeliveryRatio) })
	row("delivery p50 / p99 ms", func(r ScaleResult) string { return fmt.Sprintf("%.1f / %.1f", r.Latency.P50, r.Latency.P99) })
	row("ack p50 / p99 ms", func(r ScaleResult) string { return fmt.Sprintf("%.1f / %.1f", r.AckLatency.P50, r.AckLatency.P99) })
	row("closed by the server", func(r ScaleResult) string { return fmt.Sprint(r.Closed) })
	row("Redis commands/s per master", func(r ScaleResult) string {
		var parts []string
		for _, c := range r.RedisCmds {
			parts = append(parts, fmt.Sprintf("%.0f", c))
		}
		return strings.Join(parts, ", ")
	})
	row("Redis spread (largest off the mean)", func(r ScaleResult) string { return fmt.Sprintf("±%.1f %%", 100*r.RedisSpread) })
	row("Redis calls per message", func(r ScaleResult) string {
		names := make([]string, 0, len(r.RedisPerMsg))
		for n := range r.RedisPerMsg {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool { return r.RedisPerMsg[names[i]] > r.RedisPerMsg[names[j]] })
		var parts []string
		for _, n := range names {
			if r.RedisPerMsg[n] >= 0.05 {
				parts = append(parts, fmt.Sprintf("%s %.1f", n, r.RedisPerMsg[n]))
			}
		}
		return strings.Join(parts, ", ")
	})
	for _, role := range []string{"servers", "redis", "kafka", "persister"} {
		row("CPU µs per message: "+role, func(r ScaleResult) string { return fmt.Sprintf("%.0f", r.CPU[role]) })
	}
}
