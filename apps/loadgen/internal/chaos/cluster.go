package chaos

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rookery-chat/rookery/packages/devenv"
)

// Bins are the programs a chaos cluster runs.
type Bins struct {
	Server, Persister, Devstack string
}

// cluster is one fault's cluster: its own Redis, Kafka broker, two servers
// and a persister, on a database of a shared PostgreSQL, every process on
// loopback and killable on its own.
type cluster struct {
	bins  Bins
	dir   string
	out   io.Writer
	pg    *devenv.Postgres
	dbURL string
	redis *devenv.Redis
	rc    *devenv.RedisCluster // instead of redis, for a Cluster fault
	// redisCluster asks start for rc.
	redisCluster bool
	room         string // the load's room, once made
	kafka        *devenv.Proc
	kport        int
	servers      [2]*devenv.Proc
	sports       [2]int
	persist      *devenv.Proc
	pport        int
	settings     []string // extra server settings
}

func (c *cluster) serverURL(i int) string { return "http://127.0.0.1:" + strconv.Itoa(c.sports[i]) }
func (c *cluster) brokers() string        { return "127.0.0.1:" + strconv.Itoa(c.kport) }

// start brings up Redis, Kafka, the persister and both servers.
func (c *cluster) start(ctx context.Context) error {
	// Distinct ports: ports chosen one at a time can repeat (a server
	// once failed to start: "address already in use").
	ports, err := devenv.FreePorts(5)
	if err != nil {
		return err
	}
	c.kport, c.sports[0], c.sports[1], c.pport = ports[1], ports[2], ports[3], ports[4]
	if err := c.startRedis(ctx, ports[0]); err != nil {
		return err
	}
	if err := c.startKafka(ctx); err != nil {
		return err
	}
	if err := devenv.CreateTopic(ctx, c.brokers(), "chat.messages", 4); err != nil {
		return err
	}
	if err := c.startPersister(ctx); err != nil {
		return err
	}
	for i := range c.servers {
		if err := c.startServer(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

func (c *cluster) startKafka(ctx context.Context) error {
	p, err := devenv.StartProc(devenv.ProcSpec{Name: "kafka", Path: c.bins.Devstack, Out: c.out,
		Args: []string{"kafka", "-port", strconv.Itoa(c.kport), "-dir", filepath.Join(c.dir, "kafka"), "-partitions", "4"}})
	if err != nil {
		return err
	}
	c.kafka = p
	return waitFor(ctx, p, "kafka", devenv.TCPReady(c.brokers()))
}

func (c *cluster) startPersister(ctx context.Context) error {
	p, err := devenv.StartProc(devenv.ProcSpec{Name: "persister", Path: c.bins.Persister, Out: c.out, Env: []string{
		"DATABASE_URL=" + c.dbURL, "KAFKA_BROKERS=" + c.brokers(), "HTTP_ADDR=127.0.0.1:" + strconv.Itoa(c.pport),
		"LOG_LEVEL=warn", "RETRY_MAX=1s", "KAFKA_CREATE_TOPIC=true", "KAFKA_PARTITIONS=4"}})
	if err != nil {
		return err
	}
	c.persist = p
	return waitFor(ctx, p, "persister", devenv.HTTPReady("http://127.0.0.1:"+strconv.Itoa(c.pport)+"/healthz"))
}

func (c *cluster) startServer(ctx context.Context, i int) error {
	env := append([]string{
		"SERVER_ID=chaos-" + strconv.Itoa(i+1), "HTTP_ADDR=127.0.0.1:" + strconv.Itoa(c.sports[i]),
		"DATABASE_URL=" + c.dbURL, c.redisEnv()[0], c.redisEnv()[1], "KAFKA_BROKERS=" + c.brokers(),
		"KAFKA_CREATE_TOPIC=false", "LOG_LEVEL=warn",
		"SIGNUP_LIMIT_PER_ADDR=100000", "LOGIN_LIMIT_PER_ADDR=100000", "LOGIN_LIMIT_PER_USER=100000",
	}, c.settings...)
	p, err := devenv.StartProc(devenv.ProcSpec{Name: "server-" + strconv.Itoa(i+1), Path: c.bins.Server, Out: c.out, Env: env})
	if err != nil {
		return err
	}
	c.servers[i] = p
	return waitFor(ctx, p, "server", devenv.HTTPReady(c.serverURL(i)+"/healthz"))
}

// stop kills every process of the cluster (not the shared PostgreSQL).
func (c *cluster) stop() {
	for _, p := range []*devenv.Proc{c.servers[0], c.servers[1], c.persist, c.kafka} {
		if p != nil {
			p.Kill()
		}
	}
	if c.redis != nil {
		c.redis.Kill()
	}
	if c.rc != nil {
		c.rc.Kill()
	}
}

// restartRedis starts Redis again on its port and directory; it loads
// the directory's snapshot (dump.rdb) if there is one.
func (c *cluster) restartRedis(ctx context.Context) error {
	r, err := devenv.StartRedis(ctx, c.redis.Dir, c.redis.Port, devenv.RedisOptions{Out: c.out})
	if err != nil {
		return err
	}
	c.redis = r
	return nil
}

// snapshotRedis saves Redis's data to its directory now.
func (c *cluster) snapshotRedis(ctx context.Context) error {
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(c.redis.Port)})
	defer rc.Close()
	return rc.Save(ctx).Err()
}

func (c *cluster) dropRedisSnapshot() error {
	err := os.Remove(filepath.Join(c.redis.Dir, "dump.rdb"))
	if os.IsNotExist(err) {
		return nil
	}
	return err
}

func (c *cluster) stallKafka()  { c.kafka.Signal(syscall.SIGSTOP) }
func (c *cluster) resumeKafka() { c.kafka.Signal(syscall.SIGCONT) }

func waitFor(ctx context.Context, p *devenv.Proc, what string, check func(context.Context) error) error {
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return devenv.WaitFor(wctx, p, what, check)
}
