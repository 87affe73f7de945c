package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
)

type app struct {
	name string
	bin  string
	port int
	env  []string
	proc *devenv.Proc
}

// runDev starts the whole cluster and blocks until SIGINT/SIGTERM or until a
// process dies, then stops everything in order.
func runDev(ctx context.Context, log *slog.Logger) error {
	s, err := startServices(ctx, log, serviceOptions{dir: dataDir, persistent: true,
		pgPort: pgPort, redisPort: redisPort, kafkaPort: kafkaPort, dbName: "rookery"})
	if err != nil {
		return err
	}
	defer s.stop(log)

	// Migrate once here so that the two servers and the persister do not
	// all race for the lock at first start (they would be safe anyway).
	pool, err := db.Open(ctx, s.dbURL, 2)
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
	build := exec.CommandContext(ctx, "go", "build", "-o", binDir+"/", "./apps/server", "./apps/persister", "./apps/web")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build apps: %w", err)
	}

	common := []string{"DATABASE_URL=" + s.dbURL, "REDIS_URL=" + s.redisURL, "KAFKA_BROKERS=" + s.brokers}
	webURL := fmt.Sprintf("http://localhost:%d", webPort)
	serverURLs := []string{fmt.Sprintf("http://localhost:%d", server1), fmt.Sprintf("http://localhost:%d", server2)}
	origins := fmt.Sprintf("ALLOWED_ORIGINS=%s,http://127.0.0.1:%d", webURL, webPort)
	// On one machine every client comes from 127.0.0.1: per-address limits
	// sized for the internet would stop the load generator.
	common = append(common, "SIGNUP_LIMIT_PER_ADDR=100000", "LOGIN_LIMIT_PER_ADDR=100000")
	// Profiling on loopback, for `loadgen` runs.
	common = append(common, "PPROF=true")
	apps := []*app{
		{name: "server-1", bin: "server", port: server1, env: append([]string{"SERVER_ID=server-1", origins}, common...)},
		{name: "server-2", bin: "server", port: server2, env: append([]string{"SERVER_ID=server-2", origins}, common...)},
		{name: "persister", bin: "persister", port: persistPort, env: []string{"DATABASE_URL=" + s.dbURL, "KAFKA_BROKERS=" + s.brokers}},
		{name: "web", bin: "web", port: webPort, env: []string{"SERVER_URLS=" + strings.Join(serverURLs, ",")}},
	}
	stopApps := func() {
		// Web first, then the servers (they drain their clients and flush
		// Kafka), the persister last so that it stores what they flushed.
		for _, a := range []int{3, 0, 1, 2} {
			if p := apps[a].proc; p != nil {
				if err := p.Stop(syscall.SIGTERM, 20*time.Second); err != nil {
					log.Warn("stop", "app", apps[a].name, "err", err)
				}
			}
		}
	}
	defer stopApps()
	dead := make(chan *app, len(apps))
	for _, a := range apps {
		a.env = append(a.env, fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", a.port))
		a.proc, err = devenv.StartProc(devenv.ProcSpec{Name: a.name, Path: filepath.Join(binDir, a.bin), Env: a.env})
		if err != nil {
			return err
		}
		go func(a *app) { <-a.proc.Done(); dead <- a }(a)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, a := range apps {
		url := fmt.Sprintf("http://127.0.0.1:%d/healthz", a.port)
		if err := devenv.WaitFor(wctx, a.proc, a.name, func(ctx context.Context) error { return httpOK(ctx, url) }); err != nil {
			return err
		}
	}

	env := [][2]string{
		{"DATABASE_URL", s.dbURL}, {"REDIS_URL", s.redisURL}, {"KAFKA_BROKERS", s.brokers},
		{"SERVER_URLS", strings.Join(serverURLs, ",")}, {"WEB_URL", webURL},
		{"PERSISTER_URL", fmt.Sprintf("http://localhost:%d", persistPort)},
	}
	if s.pg != nil {
		env = append(env, [2]string{"POSTGRES_PID", fmt.Sprint(s.pg.PID())})
	}
	if s.redis != nil {
		env = append(env, [2]string{"REDIS_PID", fmt.Sprint(s.redis.PID())})
	}
	env = append(env, [2]string{"DEVSTACK_PID", fmt.Sprint(os.Getpid())})
	for _, a := range apps {
		env = append(env, [2]string{strings.ToUpper(strings.ReplaceAll(a.name, "-", "_")) + "_PID", fmt.Sprint(a.proc.PID())})
	}
	if err := writeEnvFile(devEnvPath, env); err != nil {
		return err
	}
	defer os.Remove(devEnvPath)

	fmt.Printf("\nRookery is running (written to %s):\n", devEnvPath)
	for _, kv := range env {
		fmt.Printf("  %-14s %s\n", kv[0], kv[1])
	}
	fmt.Printf("\nOpen %s in two browser windows. Ctrl-C stops everything.\n\n", webURL)

	select {
	case <-ctx.Done():
		log.Info("stopping the cluster")
		return nil
	case a := <-dead:
		return fmt.Errorf("%s exited: %v", a.name, a.proc.Err())
	}
}

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
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
