package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// readDevEnv reads the local cluster's .data/dev.env.
func readDevEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (start the cluster with `go tool task dev`)", path, err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	return env, sc.Err()
}

func median(xs []float64) float64 {
	sort.Float64s(xs)
	return xs[len(xs)/2]
}

// runBench runs the standard set `runs` times against the local cluster and
// prints each result and a table of medians against the targets.
func runBench(ctx context.Context, envPath string, runs int) error {
	env, err := readDevEnv(envPath)
	if err != nil {
		return err
	}
	servers := splitComma(env["SERVER_URLS"])
	pids := pidList(env["SERVER_1_PID"] + "," + env["SERVER_2_PID"])
	stack := rolesFromEnv(env)
	emit := func(v any) {
		b, _ := json.Marshal(v)
		fmt.Println(string(b))
	}
	type row struct {
		name, target string
		vals         []float64
		format       string
	}
	var rows []*row
	add := func(name, target, format string) *row {
		r := &row{name: name, target: target, format: format}
		rows = append(rows, r)
		return r
	}
	f50r, f50p := add("fanout C=1000 R=50: delivery ratio", "1.000", "%.4f"), add("fanout C=1000 R=50: p99 ms", "≤ 20", "%.1f")
	f200r, f200p := add("fanout C=1000 R=200: delivery ratio", "1.000", "%.4f"), add("fanout C=1000 R=200: p99 ms", "≤ 30", "%.1f")
	f200d := add("fanout C=1000 R=200: deliveries/s", "200000", "%.0f")
	f200c := add("fanout R=200: server CPU µs/delivery", "", "%.2f")
	f200s := add("fanout R=200: whole stack CPU µs/delivery", "≤ 3", "%.2f")
	idle := add("idle C=5000 (first, fresh servers): KB/conn, worse server", "≤ 12", "%.1f")
	ack := add("rooms 1000 msg/s over 100 rooms: ack p99 ms", "≤ 15", "%.1f")
	c50, c99 := add("conversations C=1000 K=50 1 msg/s each: p50 ms", "≤ 1.5", "%.1f"), add("conversations: send → delivery p99 ms", "≤ 5", "%.1f")
	cs := add("conversations: whole stack CPU µs/delivery", "≤ 28", "%.1f")
	pr := add("persister rows/s", "≥ 100000", "%.0f")
	px := add("persister ÷ per-row baseline", "≥ 20", "%.1fx")
	// Idle memory is measured once, first, on fresh servers: after a load
	// run the Go runtime keeps freed memory, and an RSS delta means nothing.
	ir, err := runIdle(ctx, servers, 5000, pids)
	if err != nil {
		return err
	}
	emit(ir)
	worst := 0.0
	for _, k := range ir.KBPerConn {
		worst = max(worst, k)
	}
	idle.vals = append(idle.vals, worst)
	for i := 0; i < runs; i++ {
		for _, rate := range []float64{50, 200} {
			res, err := runFanout(ctx, fanoutOpts{servers: servers, subs: 1000, pubs: 20, rate: rate, dur: 20 * time.Second, pids: pids, stack: stack})
			if err != nil {
				return err
			}
			emit(res)
			if rate == 50 {
				f50r.vals, f50p.vals = append(f50r.vals, res.DeliveryRatio), append(f50p.vals, res.Latency.P99)
			} else {
				f200r.vals, f200p.vals = append(f200r.vals, res.DeliveryRatio), append(f200p.vals, res.Latency.P99)
				f200d.vals, f200c.vals = append(f200d.vals, res.DeliveriesPerS), append(f200c.vals, res.CPUPerDelivery)
				f200s.vals = append(f200s.vals, res.PerDelivery)
			}
		}
		rr, err := runRooms(ctx, servers, 100, 100, 1000, 20*time.Second, pids, stack)
		if err != nil {
			return err
		}
		emit(rr)
		ack.vals = append(ack.vals, rr.AckLatency.P99)
		cr, err := runRooms(ctx, servers, 1000, 50, 1000, 20*time.Second, pids, stack)
		if err != nil {
			return err
		}
		emit(cr)
		c50.vals, c99.vals, cs.vals = append(c50.vals, cr.Latency.P50), append(c99.vals, cr.Latency.P99), append(cs.vals, cr.PerDelivery)
		p, err := runPersist(ctx, persistOpts{dbURL: env["DATABASE_URL"], brokers: env["KAFKA_BROKERS"], bin: ".data/bin/persister", n: 200000, baseline: 20000})
		if err != nil {
			return err
		}
		emit(p)
		pr.vals, px.vals = append(pr.vals, p.PersisterRate), append(px.vals, p.Speedup)
	}
	host, _ := os.Hostname()
	fmt.Printf("\nmedian of %d run(s), %s, host %s, %s\n", runs, time.Now().UTC().Format("2006-01-02"), host, cpuModel())
	fmt.Printf("| %-48s | %-10s | %s |\n|---|---|---|\n", "scenario", "target", "measured")
	for _, r := range rows {
		fmt.Printf("| %-48s | %-10s | "+r.format+" |\n", r.name, r.target, median(r.vals))
	}
	return nil
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			_, v, _ := strings.Cut(l, ":")
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
