package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
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
	f500r, f500p := add("fanout C=1000 R=500 from 50 senders: delivery ratio", "1.000", "%.4f"), add("fanout R=500 from 50 senders: p99 ms", "≤ 100", "%.1f")
	type densityRows struct{ kb, rate, hot *row }
	density := map[int]densityRows{}
	for _, n := range densitySizes {
		density[n] = densityRows{add(fmt.Sprintf("density %d on one server (fresh): KB/conn", n), "≤ 8", "%.2f"),
			add(fmt.Sprintf("density %d: connects/s", n), "≥ 5000", "%.0f"),
			add(fmt.Sprintf("density %d: room of 100, p99 ms", n), "≤ 20", "%.1f")}
	}
	ack := add("rooms 1000 msg/s over 100 rooms: ack p99 ms", "≤ 15", "%.1f")
	c50, c99 := add("conversations C=1000 K=50 1 msg/s each: p50 ms", "≤ 1.5", "%.1f"), add("conversations: send → delivery p99 ms", "≤ 5", "%.1f")
	cs := add("conversations: whole stack CPU µs/delivery", "≤ 28", "%.1f")
	csv := add("  of which the servers", "–", "%.1f")
	crb := add("  of which Redis and the broker", "–", "%.1f")
	pr := add("persister rows/s (search index on)", "≥ 150000", "%.0f")
	pc := add("PostgreSQL alone, same rows, 2 COPYs: rows/s", "–", "%.0f")
	px := add("persister ÷ per-row baseline", "≥ 20", "%.1fx")
	rs := add("resume 100 × 1,000 missed at once, batched: p99 ms", "≤ 50", "%.1f")
	rf := add("same, one frame per message: p99 ms", "–", "%.1f")
	// Density is measured once per size, first, each on a freshly
	// restarted server 1: after a load run the Go runtime keeps freed
	// memory, and an RSS delta means nothing.
	for _, n := range densitySizes {
		if env, err = restartServer(ctx, envPath, "SERVER_1_PID", servers[0]); err != nil {
			return err
		}
		pid := pidList(env["SERVER_1_PID"])[0]
		dr, err := runDensity(ctx, servers[0], servers[1], n, 1000, 9000, pid, rolesFromEnv(env))
		if err != nil {
			return fmt.Errorf("density %d: %w", n, err)
		}
		emit(dr)
		d := density[n]
		d.kb.vals, d.rate.vals, d.hot.vals = append(d.kb.vals, dr.KBPerConn), append(d.rate.vals, dr.ConnectRate), append(d.hot.vals, dr.HotRoom.Latency.P99)
	}
	pids = pidList(env["SERVER_1_PID"] + "," + env["SERVER_2_PID"])
	stack = rolesFromEnv(env)
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
		f5, err := runFanout(ctx, fanoutOpts{servers: servers, subs: 1000, pubs: 50, rate: 500, dur: 20 * time.Second, pids: pids, stack: stack})
		if err != nil {
			return err
		}
		emit(f5)
		f500r.vals, f500p.vals = append(f500r.vals, f5.DeliveryRatio), append(f500p.vals, f5.Latency.P99)
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
		csv.vals = append(csv.vals, cr.roleShare("servers"))
		crb.vals = append(crb.vals, cr.roleShare("redis", "broker"))
		p, err := runPersist(ctx, persistOpts{dbURL: env["DATABASE_URL"], brokers: env["KAFKA_BROKERS"], bin: ".data/bin/persister", n: 200000, baseline: 20000})
		if err != nil {
			return err
		}
		emit(p)
		pr.vals, px.vals, pc.vals = append(pr.vals, p.PersisterRate), append(px.vals, p.Speedup), append(pc.vals, p.CeilingRate)
		for _, batch := range []bool{true, false} {
			rz, err := runResume(ctx, servers, 100, 1000, batch, stack)
			if err != nil {
				return err
			}
			emit(rz)
			if batch {
				rs.vals = append(rs.vals, rz.Latency.P99)
			} else {
				rf.vals = append(rf.vals, rz.Latency.P99)
			}
		}
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

// densitySizes are the connection counts of the density rows: up to what
// one server process may hold here (20,000 open files, a hard limit).
var densitySizes = []int{5000, 10000, 19000}

// restartServer kills the local cluster's server whose PID is under key
// (devstack starts it again) and waits for the new one to be ready at
// url; it returns the rewritten env file.
func restartServer(ctx context.Context, envPath, key, url string) (map[string]string, error) {
	env, err := readDevEnv(envPath)
	if err != nil {
		return nil, err
	}
	old := env[key]
	pid, err := strconv.Atoi(old)
	if err != nil {
		return nil, fmt.Errorf("%s: no %s", envPath, key)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return nil, fmt.Errorf("kill %s %d: %w", key, pid, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond): // polling the env file and /readyz, bounded by the deadline
		}
		env, err = readDevEnv(envPath)
		if err != nil || env[key] == old || env[key] == "" {
			continue
		}
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return env, nil
			}
		}
	}
	return nil, fmt.Errorf("%s did not come back within 60 s", key)
}
