// Command loadgen measures a running chat cluster the way its users load
// it, speaking only the public contract (plus, for `persist`, Kafka and
// PostgreSQL directly). Every run is bounded in count and time, prints one
// JSON line of results and a short table.
//
//	loadgen fanout  -servers URL,URL -c 1000 -p 20 -rate 50 -d 20s [-pids PID,PID]
//	loadgen rooms   -servers URL,URL -c 100 -rooms 100 -rate 1000 -d 20s
//	loadgen idle    -servers URL,URL -c 5000 -pids PID,PID
//	loadgen density -servers URL[,SETUP_URL] -pids PID -c 10000 -rooms 1000 [-per-proc 9000]
//	loadgen persist -db URL -brokers HOST:PORT -persister PATH -n 200000
//	loadgen search -servers URL -db URL -n 1000000 -queries 100
//	loadgen resume -servers URL,URL -c 100 -n 1000 [-batch=false]
//	loadgen bench   [-runs 3]   the standard set against `go tool task dev`
//	loadgen chaos   [-short] [-faults 1,2] [-redis cluster] [-v]   the fault suite, on clusters of its own
//	loadgen scale   [-c 5000] [-rooms 500] [-rate 500] [-d 30s]   2 servers on one Redis against 4 on a Redis Cluster, on stacks of its own
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func pidList(s string) []int {
	var out []int
	for _, p := range splitComma(s) {
		if n, err := strconv.Atoi(p); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// quietRedis drops go-redis's internal log.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen fanout|rooms|idle|density|persist|search|resume|webhooks|bench|chaos|scale [flags]")
		os.Exit(2)
	}
	// The chaos suite kills Redis nodes on purpose: go-redis's log of the
	// dials that then fail is noise here; errors reach the callers anyway.
	redis.SetLogger(quietRedis{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Args[1] == densityChild {
		if err := densityMain(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen connecting process:", err)
			os.Exit(1)
		}
		return
	}
	if os.Args[1] == publishChild {
		if err := publishMain(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen publisher:", err)
			os.Exit(1)
		}
		return
	}
	if own, ok := map[string]func(context.Context, []string) error{"chaos": runChaos, "scale": runScale}[os.Args[1]]; ok {
		if err := own(ctx, os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "loadgen %s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, scenario string, args []string) error {
	fs := flag.NewFlagSet(scenario, flag.ExitOnError)
	servers := fs.String("servers", os.Getenv("SERVER_URLS"), "chat servers' base URLs, comma-separated")
	pids := fs.String("pids", "", "server PIDs for CPU and RSS, comma-separated")
	c := fs.Int("c", 1000, "clients (subscribers, connections)")
	p := fs.Int("p", 20, "publishers (fanout)")
	rooms := fs.Int("rooms", 100, "rooms (rooms; persist: rooms the messages are spread over, 1 unless given)")
	rate := fs.Float64("rate", 50, "messages per second in total")
	dur := fs.Duration("d", 20*time.Second, "duration of sending")
	dbURL := fs.String("db", os.Getenv("DATABASE_URL"), "PostgreSQL URL (persist)")
	brokers := fs.String("brokers", os.Getenv("KAFKA_BROKERS"), "Kafka brokers (persist)")
	bin := fs.String("persister", ".data/bin/persister", "persister binary (persist)")
	serverBin := fs.String("server", ".data/bin/server", "server binary, for its apikey command (webhooks)")
	n := fs.Int("n", 200000, "messages (persist)")
	baseline := fs.Int("baseline", 20000, "rows for the one-INSERT-per-row baseline (persist)")
	queries := fs.Int("queries", 100, "queries of each kind (search)")
	batch := fs.Bool("batch", true, "resume: ask for the replay in replay frames (a contract addition); -batch=false for one frame per message")
	runs := fs.Int("runs", 1, "repetitions (bench); the table shows medians")
	perProc := fs.Int("per-proc", 9000, "connections per connecting process (density; a process may hold only so many files)")
	envPath := fs.String("env", ".data/dev.env", "the local cluster's env file: bench reads the servers from it; bench, rooms and fanout the PIDs of every process, for the CPU of the whole stack")
	cpuProfile := fs.String("cpuprofile", "", "write the load generator's own CPU profile to this file (it shares the cores with what it measures)")
	_ = fs.Parse(args)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *dur > 5*time.Minute {
		return fmt.Errorf("-d is capped at 5m")
	}
	ctx, cancel := context.WithTimeout(ctx, *dur+time.Duration(*runs)*10*time.Minute)
	defer cancel()
	if scenario == "bench" {
		return runBench(ctx, *envPath, *runs)
	}
	srv := splitComma(*servers)
	if scenario != "persist" && len(srv) == 0 {
		return fmt.Errorf("no servers: give -servers or SERVER_URLS")
	}
	var stack roles
	if env, err := readDevEnv(*envPath); err == nil {
		stack = rolesFromEnv(env)
	}
	var res any
	var err error
	switch scenario {
	case "fanout":
		res, err = runFanout(ctx, fanoutOpts{servers: srv, subs: *c, pubs: *p, rate: *rate, dur: *dur, pids: pidList(*pids), stack: stack})
	case "rooms":
		res, err = runRooms(ctx, srv, *c, *rooms, *rate, *dur, pidList(*pids), stack)
	case "density":
		ps := pidList(*pids)
		if len(ps) != 1 {
			return fmt.Errorf("density measures the first of -servers: give its -pids PID")
		}
		// Sign-ups go through the second server, if any, so the measured
		// one's heap holds connections only.
		res, err = runDensity(ctx, srv[0], srv[len(srv)-1], *c, *rooms, *perProc, ps[0], stack)
	case "idle":
		res, err = runIdle(ctx, srv, *c, pidList(*pids))
	case "persist":
		// -rooms means 1 here unless given: the standard figure is one
		// busy room.
		prooms := 1
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "rooms" {
				prooms = *rooms
			}
		})
		res, err = runPersist(ctx, persistOpts{dbURL: *dbURL, brokers: *brokers, bin: *bin, n: *n, baseline: *baseline, rooms: prooms})
	case "search":
		res, err = runSearch(ctx, srv[0], *dbURL, *n, *queries)
	case "resume":
		res, err = runResume(ctx, srv, *c, *n, *batch, stack)
	case "webhooks":
		res, err = runWebhooks(ctx, srv[0], *dbURL, *serverBin, *n, *rate)
	default:
		return fmt.Errorf("unknown scenario %q", scenario)
	}
	if err != nil {
		return err
	}
	line, _ := json.Marshal(res)
	fmt.Println(string(line))
	printTable(res)
	return nil
}

func printTable(res any) {
	switch r := res.(type) {
	case FanoutResult:
		fmt.Printf("fanout  C=%d P=%d R=%.0f/s %.0fs | acked %d/%d, delivered %d/%d (ratio %.4f), %.0f deliveries/s\n",
			r.Subscribers, r.Publishers, r.Rate, r.Duration, r.Acked, r.Sent, r.Delivered, r.Expected, r.DeliveryRatio, r.DeliveriesPerS)
		fmt.Printf("        latency p50 %.1f p95 %.1f p99 %.1f max %.1f ms | ack p50 %.1f p99 %.1f ms | server CPU %.2f µs/delivery | closed %d\n",
			r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max, r.AckLatency.P50, r.AckLatency.P99, r.CPUPerDelivery, r.Closed)
		fmt.Printf("        %s\n", r.stackCPU)
	case RoomsResult:
		fmt.Printf("rooms   C=%d K=%d R=%.0f/s %.0fs | acked %d/%d, errors %d | ack p50 %.1f p95 %.1f p99 %.1f max %.1f ms\n",
			r.Clients, r.Rooms, r.Rate, r.Duration, r.Acked, r.Sent, r.Errors, r.AckLatency.P50, r.AckLatency.P95, r.AckLatency.P99, r.AckLatency.Max)
		fmt.Printf("        delivered %d (ratio %.4f) | send → delivery p50 %.1f p95 %.1f p99 %.1f max %.1f ms | %s\n",
			r.Delivered, r.DeliveryRatio, r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max, r.stackCPU)
	case DensityResult:
		fmt.Printf("density C=%d rooms=%d over %d processes | connected in %.1fs (%.0f/s), subscribed by %.1fs | server RSS %d -> %d KB: %.2f KB per connection\n",
			r.Connections, r.Rooms, r.Processes, r.ConnectSecs, r.ConnectRate, r.SubscribeSecs, r.RSSBeforeKB, r.RSSAfterKB, r.KBPerConn)
		fmt.Printf("        CPU per connection until subscribed (µs): %s\n", perRole(r.ConnectCPU))
		fmt.Printf("        meanwhile a room of 100 at 10 msg/s: delivered %.4f, p50 %.1f p99 %.1f ms\n",
			r.HotRoom.DeliveryRatio, r.HotRoom.Latency.P50, r.HotRoom.Latency.P99)
	case IdleResult:
		fmt.Printf("idle    C=%d | KB per connection per server: %v\n", r.Connections, r.KBPerConn)
	case WebhooksResult:
		fmt.Printf("webhooks %d published at %.0f/s, %d delivered (in seq order: %v, repeats %d, bad signatures %d) | publish -> webhook p50 %.1f p95 %.1f p99 %.1f max %.1f ms | publish p50 %.1f p99 %.1f ms\n",
			r.Published, r.Rate, r.Delivered, r.InOrder, r.Repeats, r.BadSigs, r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max, r.PublishLat.P50, r.PublishLat.P99)
	case ResumeResult:
		how := "one frame each"
		if r.Batched {
			how = "batched"
		}
		fmt.Printf("resume  %d subscribers resume %d missed messages at once (%s) | subscribe -> subscribed p50 %.1f p95 %.1f p99 %.1f max %.1f ms | complete %d, recovered %d, errors %d\n",
			r.Resumers, r.Missed, how, r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max, r.Complete, r.Recovered, r.Errors)
		fmt.Printf("        %s (per replayed frame; the load generator's own as loadgen)\n", r.stackCPU)
	case SearchResult:
		fmt.Printf("search  corpus %d messages in %d rooms (%d rows stored), member of %d | %d queries: p50 %.1f p95 %.1f p99 %.1f max %.1f ms | errors %d\n",
			r.Corpus, r.Rooms, r.Stored, r.MyRooms, r.Queries, r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max, r.Errors)
		for _, k := range r.QueryKind {
			p := r.ByKind[k]
			fmt.Printf("        %-28s p50 %6.1f p95 %6.1f p99 %6.1f ms, %.1f results\n", k, p.P50, p.P95, p.P99, r.MeanHits[k])
		}
	case PersistResult:
		fmt.Printf("persist n=%d rooms=%d | persister %.0f rows/s (%.2fs, %.2f CPU s) | PostgreSQL alone %.0f rows/s | baseline %.0f rows/s | %.1fx\n",
			r.Messages, r.Rooms, r.PersisterRate, r.PersisterSecs, r.PersisterCPU, r.CeilingRate, r.BaselineRate, r.Speedup)
	}
}
