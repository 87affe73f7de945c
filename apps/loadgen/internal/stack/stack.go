// Package stack starts a whole Rookery cluster of processes for the load
// tools that need one of their own (the chaos suite, the scale bench): a
// Redis (single, or a Redis Cluster), a Kafka-protocol broker, a persister
// and any number of servers, on a database of a PostgreSQL the caller
// started, every process on loopback and killable on its own.
package stack

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rookery-chat/rookery/packages/devenv"
)

// Bins are the programs a stack runs.
type Bins struct {
	Server, Persister, Devstack string
}

// Spec describes a stack.
type Spec struct {
	Bins  Bins
	Dir   string    // the stack's own files (Redis, Kafka)
	Out   io.Writer // the processes' output
	PG    *devenv.Postgres
	DBURL string // a database of PG
	// Servers is how many chat servers run (2 when 0).
	Servers int
	// RedisCluster runs three Redis masters with a replica each instead of
	// one Redis.
	RedisCluster bool
	Partitions   int      // of the Kafka topic (4 when 0)
	Settings     []string // extra server settings, KEY=value
}

// Stack is a running stack. Its processes may be killed and restarted by
// the caller; Stop kills whatever runs.
type Stack struct {
	Spec
	Redis       *devenv.Redis        // single mode
	RC          *devenv.RedisCluster // cluster mode
	Kafka       *devenv.Proc
	KafkaPort   int
	Server      []*devenv.Proc
	ServerPort  []int
	Persister   *devenv.Proc
	PersistPort int
}

// Start brings up Redis, Kafka, the persister and the servers.
func Start(ctx context.Context, spec Spec) (_ *Stack, err error) {
	if spec.Servers == 0 {
		spec.Servers = 2
	}
	if spec.Partitions == 0 {
		spec.Partitions = 4
	}
	s := &Stack{Spec: spec, Server: make([]*devenv.Proc, spec.Servers)}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	// Distinct ports: ports chosen one at a time can repeat (a server
	// once failed to start: "address already in use").
	ports, err := devenv.FreePorts(3 + spec.Servers)
	if err != nil {
		return nil, err
	}
	s.KafkaPort, s.PersistPort, s.ServerPort = ports[1], ports[2], ports[3:]
	if err := s.startRedis(ctx, ports[0]); err != nil {
		return nil, err
	}
	if err := s.StartKafka(ctx); err != nil {
		return nil, err
	}
	if err := devenv.CreateTopic(ctx, s.Brokers(), "chat.messages", s.Partitions); err != nil {
		return nil, err
	}
	if err := s.StartPersister(ctx); err != nil {
		return nil, err
	}
	for i := range s.Server {
		if err := s.StartServer(ctx, i); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ServerURL is server i's base URL.
func (s *Stack) ServerURL(i int) string { return "http://127.0.0.1:" + strconv.Itoa(s.ServerPort[i]) }

// URLs are every server's base URL.
func (s *Stack) URLs() []string {
	out := make([]string, len(s.Server))
	for i := range out {
		out[i] = s.ServerURL(i)
	}
	return out
}

// Brokers is the Kafka bootstrap address.
func (s *Stack) Brokers() string { return "127.0.0.1:" + strconv.Itoa(s.KafkaPort) }

// StartKafka starts the broker (again) on its port and directory.
func (s *Stack) StartKafka(ctx context.Context) error {
	p, err := devenv.StartProc(devenv.ProcSpec{Name: "kafka", Path: s.Bins.Devstack, Out: s.Out,
		Args: []string{"kafka", "-port", strconv.Itoa(s.KafkaPort), "-dir", filepath.Join(s.Dir, "kafka"),
			"-partitions", strconv.Itoa(s.Partitions)}})
	if err != nil {
		return err
	}
	s.Kafka = p
	return waitFor(ctx, p, "kafka", devenv.KafkaReady(s.Brokers()))
}

// StartPersister starts the persister (again).
func (s *Stack) StartPersister(ctx context.Context) error {
	p, err := devenv.StartProc(devenv.ProcSpec{Name: "persister", Path: s.Bins.Persister, Out: s.Out, Env: []string{
		"DATABASE_URL=" + s.DBURL, "KAFKA_BROKERS=" + s.Brokers(), "HTTP_ADDR=127.0.0.1:" + strconv.Itoa(s.PersistPort),
		"LOG_LEVEL=warn", "RETRY_MAX=1s", "KAFKA_CREATE_TOPIC=true", "KAFKA_PARTITIONS=" + strconv.Itoa(s.Partitions)}})
	if err != nil {
		return err
	}
	s.Persister = p
	return waitFor(ctx, p, "persister", devenv.HTTPReady("http://127.0.0.1:"+strconv.Itoa(s.PersistPort)+"/healthz"))
}

// StartServer starts server i (again) on its port.
func (s *Stack) StartServer(ctx context.Context, i int) error {
	env := append([]string{
		"SERVER_ID=stack-" + strconv.Itoa(i+1), "HTTP_ADDR=127.0.0.1:" + strconv.Itoa(s.ServerPort[i]),
		"DATABASE_URL=" + s.DBURL, "KAFKA_BROKERS=" + s.Brokers(), "KAFKA_CREATE_TOPIC=false", "LOG_LEVEL=warn",
		"SIGNUP_LIMIT_PER_ADDR=100000", "LOGIN_LIMIT_PER_ADDR=100000", "LOGIN_LIMIT_PER_USER=100000", "WS_CONNS_PER_ADDR=100000", "ADMIN_ADDR=127.0.0.1:0",
	}, s.redisEnv()...)
	env = append(env, s.Settings...)
	p, err := devenv.StartProc(devenv.ProcSpec{Name: "server-" + strconv.Itoa(i+1), Path: s.Bins.Server, Out: s.Out, Env: env})
	if err != nil {
		return err
	}
	s.Server[i] = p
	return waitFor(ctx, p, "server", devenv.HTTPReady(s.ServerURL(i)+"/healthz"))
}

// Stop kills every process of the stack (not the caller's PostgreSQL).
func (s *Stack) Stop() {
	procs := append([]*devenv.Proc{s.Persister, s.Kafka}, s.Server...)
	for _, p := range procs {
		if p != nil {
			p.Kill()
		}
	}
	if s.Redis != nil {
		s.Redis.Kill()
	}
	if s.RC != nil {
		s.RC.Kill()
	}
}

// StallKafka stops the broker's process (SIGSTOP): connections stay open,
// nothing answers.
func (s *Stack) StallKafka() { s.Kafka.Signal(syscall.SIGSTOP) }

// ResumeKafka lets a stalled broker go on.
func (s *Stack) ResumeKafka() { s.Kafka.Signal(syscall.SIGCONT) }

func waitFor(ctx context.Context, p *devenv.Proc, what string, check func(context.Context) error) error {
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return devenv.WaitFor(wctx, p, what, check)
}

// errNoCluster is returned by the cluster-only helpers on a single Redis.
var errNoCluster = fmt.Errorf("stack: not a Redis Cluster")

// redisClient is a client on the stack's Redis, whichever its mode.
func (s *Stack) redisClient() redis.UniversalClient {
	if s.RC != nil {
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: s.RC.Addrs(), DialTimeout: time.Second})
	}
	return redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.Redis.Port)})
}

// removeFile removes path; a missing file is fine.
func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// PIDs are the stack's processes by role: "servers", "redis", "kafka",
// "persister" (not PostgreSQL, which is the caller's).
func (s *Stack) PIDs() map[string][]int {
	out := map[string][]int{"kafka": {s.Kafka.PID()}, "persister": {s.Persister.PID()}}
	for _, p := range s.Server {
		out["servers"] = append(out["servers"], p.PID())
	}
	if s.Redis != nil {
		out["redis"] = []int{s.Redis.PID()}
	}
	if s.RC != nil {
		for _, n := range s.RC.Nodes {
			out["redis"] = append(out["redis"], n.PID())
		}
	}
	return out
}
