package main

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rookery-chat/rookery/packages/db"
	"github.com/rookery-chat/rookery/packages/devenv"
)

const (
	dataDir    = ".data"
	devEnvPath = ".data/dev.env"
)

// Fixed, non-default ports of the local cluster, so URLs stay the same
// between runs and never clash with a system PostgreSQL or Redis.
const (
	pgPort      = 55432
	redisPort   = 56379
	kafkaPort   = 59092
	webPort     = 8080
	server1     = 8081
	server2     = 8082
	persistPort = 8090
	hooksPort   = 8095
	admin1      = 9181 // the servers' admin listeners: metrics, probes, pprof
	admin2      = 9182
)

type app struct {
	name string
	bin  string
	port int
	env  []string
	// oneP runs it with GOMAXPROCS=1 (see oneProc).
	oneP bool
}

// runDev starts the whole cluster and supervises it until SIGINT/SIGTERM:
// a process that exits is logged and restarted (see supervised) while the
// rest keeps running. Then everything stops, in order.
func runDev(ctx context.Context, log *slog.Logger) error {
	dbURL, redisURL, brokers := os.Getenv("DATABASE_URL"), os.Getenv("REDIS_URL"), os.Getenv("KAFKA_BROKERS")
	if dbURL == "" || redisURL == "" {
		if err := devenv.EnsureServers(ctx, os.Stderr, false); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	_ = os.Chmod(dataDir, 0o755) // PostgreSQL, running as its own user, must reach its directory
	self, err := os.Executable()
	if err != nil {
		return err
	}

	// Supervision ends first at shutdown, so that stopping is not taken for
	// a crash; the processes then stop in order.
	sctx, endSupervision := context.WithCancel(context.Background())
	defer endSupervision()
	var mu sync.Mutex     // guards all and env: restarts rewrite dev.env
	var all []*supervised // in start order
	var env [][2]string
	writeEnv := func() {
		mu.Lock()
		defer mu.Unlock()
		if env == nil {
			return // not up yet
		}
		kv := append([][2]string(nil), env...)
		for _, s := range all {
			kv = append(kv, [2]string{strings.ToUpper(strings.ReplaceAll(s.name, "-", "_")) + "_PID", fmt.Sprint(s.pid())})
		}
		kv = append(kv, [2]string{"DEVSTACK_PID", fmt.Sprint(os.Getpid())})
		if err := writeEnvFile(devEnvPath, kv); err != nil {
			log.Warn("dev.env not written", "err", err)
		}
	}
	add := func(name string, start func(ctx context.Context) (*devenv.Proc, error)) error {
		s := &supervised{name: name, start: start, onStart: writeEnv}
		if err := s.launch(ctx); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		mu.Lock()
		all = append(all, s)
		mu.Unlock()
		go s.run(sctx, log)
		return nil
	}
	defer func() {
		endSupervision()
		// Web first, then the servers (they drain their clients and flush
		// Kafka), the persister (it stores what they flushed), then Kafka,
		// Redis and PostgreSQL (SIGINT: its fast shutdown).
		for i := len(all) - 1; i >= 0; i-- {
			sig := os.Signal(syscall.SIGTERM)
			if all[i].name == "postgres" {
				sig = syscall.SIGINT
			}
			all[i].stop(log, sig, 20*time.Second)
		}
	}()

	if dbURL == "" {
		var first *devenv.Postgres
		err := add("postgres", func(ctx context.Context) (*devenv.Proc, error) {
			pg, err := devenv.StartPostgres(ctx, filepath.Join(dataDir, "postgres"), pgPort, devenv.PostgresOptions{})
			if err != nil {
				return nil, err
			}
			if first == nil {
				first = pg
			}
			return pg.Proc, nil
		})
		if err != nil {
			return err
		}
		if err := first.CreateDatabase(ctx, "rookery"); err != nil {
			return fmt.Errorf("create database: %w", err)
		}
		dbURL = first.URL("rookery")
	}
	redisMode := os.Getenv("REDIS_MODE")
	if redisURL == "" && redisMode == "cluster" {
		if redisURL, err = startDevCluster(ctx, add); err != nil {
			return err
		}
	}
	if redisURL == "" {
		rdir := filepath.Join(dataDir, "redis")
		if err := os.MkdirAll(rdir, 0o755); err != nil {
			return err
		}
		var r *devenv.Redis
		err := add("redis", func(ctx context.Context) (*devenv.Proc, error) {
			var err error
			r, err = devenv.StartRedis(ctx, rdir, redisPort, devenv.RedisOptions{Persist: true})
			if err != nil {
				return nil, err
			}
			return r.Proc, nil
		})
		if err != nil {
			return err
		}
		redisURL = r.URL()
	}
	if brokers == "" {
		brokers = fmt.Sprintf("127.0.0.1:%d", kafkaPort)
		err := add("kafka", func(ctx context.Context) (*devenv.Proc, error) {
			p, err := devenv.StartProc(devenv.ProcSpec{Name: "kafka", Path: self, Env: oneProc(),
				Args: []string{"kafka", "-port", fmt.Sprint(kafkaPort), "-dir", filepath.Join(dataDir, "kafka")}})
			if err != nil {
				return nil, err
			}
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := devenv.WaitFor(wctx, p, "kafka", devenv.KafkaReady(brokers)); err != nil {
				p.Kill()
				return nil, err
			}
			return p, nil
		})
		if err != nil {
			return err
		}
	}

	// Migrate once here so that the two servers and the persister do not
	// all race for the lock at first start (they would be safe anyway).
	pool, err := db.Open(ctx, dbURL, 2)
	if err != nil {
		return err
	}
	err = db.Migrate(ctx, pool, log)
	pool.Close()
	if err != nil {
		return err
	}

	binDir, _ := filepath.Abs(filepath.Join(dataDir, "bin"))
	log.Info("building apps", "dir", binDir)
	build := exec.CommandContext(ctx, "go", "build", "-o", binDir+"/", "./apps/server", "./apps/persister", "./apps/web", "./apps/webhooks")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build apps: %w", err)
	}

	common := []string{"DATABASE_URL=" + dbURL, "REDIS_URL=" + redisURL, "KAFKA_BROKERS=" + brokers}
	if redisMode != "" {
		common = append(common, "REDIS_MODE="+redisMode)
	}
	webURL := fmt.Sprintf("http://localhost:%d", webPort)
	serverURLs := []string{fmt.Sprintf("http://localhost:%d", server1), fmt.Sprintf("http://localhost:%d", server2)}
	origins := fmt.Sprintf("ALLOWED_ORIGINS=%s,http://127.0.0.1:%d", webURL, webPort)
	// On one machine every client comes from 127.0.0.1: per-address limits
	// sized for the internet would stop the load generator.
	common = append(common, "SIGNUP_LIMIT_PER_ADDR=100000", "LOGIN_LIMIT_PER_ADDR=100000", "WS_CONNS_PER_ADDR=100000")
	// Profiling on loopback, for `loadgen` runs; no load balancer to wait
	// for at Ctrl-C.
	common = append(common, "PPROF=true", "DRAIN_GRACE=0s")
	apps := []app{
		{name: "persister", bin: "persister", port: persistPort, env: []string{"DATABASE_URL=" + dbURL, "KAFKA_BROKERS=" + brokers}},
		{name: "webhooks", bin: "webhooks", port: hooksPort, env: []string{"DATABASE_URL=" + dbURL, "KAFKA_BROKERS=" + brokers}, oneP: true},
		{name: "server-1", bin: "server", port: server1, env: append([]string{"SERVER_ID=server-1", origins, fmt.Sprintf("ADMIN_ADDR=127.0.0.1:%d", admin1)}, common...)},
		{name: "server-2", bin: "server", port: server2, env: append([]string{"SERVER_ID=server-2", origins, fmt.Sprintf("ADMIN_ADDR=127.0.0.1:%d", admin2)}, common...)},
		{name: "web", bin: "web", port: webPort, env: []string{"SERVER_URLS=" + strings.Join(serverURLs, ",")}, oneP: true},
	}
	for _, a := range apps {
		a.env = append(a.env, fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", a.port))
		if a.oneP {
			a.env = append(oneProc(), a.env...)
		}
		err := add(a.name, func(ctx context.Context) (*devenv.Proc, error) {
			p, err := devenv.StartProc(devenv.ProcSpec{Name: a.name, Path: filepath.Join(binDir, a.bin), Env: a.env})
			if err != nil {
				return nil, err
			}
			wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			url := fmt.Sprintf("http://127.0.0.1:%d/healthz", a.port)
			if err := devenv.WaitFor(wctx, p, a.name, devenv.HTTPReady(url)); err != nil {
				p.Kill()
				return nil, err
			}
			return p, nil
		})
		if err != nil {
			return err
		}
	}

	mu.Lock()
	env = [][2]string{
		{"DATABASE_URL", dbURL}, {"REDIS_URL", redisURL}, {"REDIS_MODE", cmp.Or(redisMode, "single")}, {"KAFKA_BROKERS", brokers},
		{"SERVER_URLS", strings.Join(serverURLs, ",")}, {"WEB_URL", webURL},
		{"PERSISTER_URL", fmt.Sprintf("http://localhost:%d", persistPort)},
		{"WEBHOOKS_URL", fmt.Sprintf("http://localhost:%d", hooksPort)},
		{"SERVER_ADMIN_URLS", fmt.Sprintf("http://localhost:%d,http://localhost:%d", admin1, admin2)},
	}
	mu.Unlock()
	writeEnv()
	defer os.Remove(devEnvPath)

	fmt.Printf("\nRookery is running (written to %s; a process that exits is restarted):\n", devEnvPath)
	kv, _ := readEnvFile(devEnvPath)
	for _, k := range []string{"DATABASE_URL", "REDIS_URL", "KAFKA_BROKERS", "SERVER_URLS", "SERVER_ADMIN_URLS", "WEB_URL", "PERSISTER_URL", "WEBHOOKS_URL"} {
		fmt.Printf("  %-17s %s\n", k, kv[k])
	}
	fmt.Printf("\nOpen %s in two browser windows. Ctrl-C stops everything.\n\n", webURL)
	<-ctx.Done()
	log.Info("stopping the cluster")
	return nil
}

func writeEnvFile(path string, kv [][2]string) error {
	var b strings.Builder
	b.WriteString("# Written by devstack while the local cluster runs; source it from a shell.\n")
	for _, e := range kv {
		fmt.Fprintf(&b, "%s=%s\n", e[0], e[1])
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			m[k] = v
		}
	}
	return m, sc.Err()
}

// oneProc runs a Go process of the cluster on one P unless GOMAXPROCS is
// set: the broker, the web app and the webhook dispatcher share this
// machine's cores with everything else, and each one sized for all the
// cores spent the difference waking idle threads and handing goroutines
// between them. The servers and the persister keep Go's default. A server
// on one P used 15-20 % less CPU in the conversations scenario, but after
// a storm of 19,000 connects its heap had grown to ~400 MB (6-23 KB of RSS
// per connection against 4.4-5.0 with two P); a persister on one P stored
// 10 % fewer rows a second. See the README's performance notes.
func oneProc() []string {
	if os.Getenv("GOMAXPROCS") != "" {
		return nil
	}
	return []string{"GOMAXPROCS=1"}
}
