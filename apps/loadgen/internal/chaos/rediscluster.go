package chaos

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rookery-chat/rookery/packages/devenv"
)

// startRedis starts the cluster's Redis: a single server on port, or, for
// a Cluster fault, three masters with a replica each on free ports.
func (c *cluster) startRedis(ctx context.Context, port int) error {
	if !c.redisCluster {
		rdir := filepath.Join(c.dir, "redis")
		if err := os.MkdirAll(rdir, 0o755); err != nil {
			return err
		}
		r, err := devenv.StartRedis(ctx, rdir, port, devenv.RedisOptions{Out: c.out})
		c.redis = r
		return err
	}
	ports, err := devenv.FreePorts(12)
	if err != nil {
		return err
	}
	c.rc, err = devenv.StartRedisCluster(ctx, filepath.Join(c.dir, "redis-cluster"), ports, 3, c.out)
	return err
}

// redisEnv is the servers' REDIS_URL and REDIS_MODE.
func (c *cluster) redisEnv() [2]string {
	if c.rc != nil {
		return [2]string{"REDIS_URL=" + c.rc.URL(), "REDIS_MODE=cluster"}
	}
	return [2]string{"REDIS_URL=" + c.redis.URL(), "REDIS_MODE=single"}
}

// failOverRoom kills -9 the master that owns the load's room, waits until
// its replica has taken the room's slot over, and starts the killed node
// again (it rejoins as a replica), as an operator would.
func (c *cluster) failOverRoom(ctx context.Context) error {
	if c.rc == nil || c.room == "" {
		return fmt.Errorf("failover: no cluster or no room")
	}
	key := "rk:seq:{" + c.room + "}"
	owner := func() (int, error) {
		rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.rc.Addrs(), DialTimeout: time.Second})
		defer rdb.Close()
		m, err := rdb.MasterForKey(ctx, key)
		if err != nil {
			return 0, err
		}
		_, p, err := net.SplitHostPort(m.Options().Addr)
		if err != nil {
			return 0, err
		}
		if err := m.Ping(ctx).Err(); err != nil {
			return 0, err
		}
		return strconv.Atoi(p)
	}
	port, err := owner()
	if err != nil {
		return err
	}
	victim := -1
	for i, n := range c.rc.Nodes {
		if n.Port == port {
			victim = i
		}
	}
	if victim < 0 {
		return fmt.Errorf("failover: no node on port %d", port)
	}
	c.rc.Nodes[victim].Kill()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if p, err := owner(); err == nil && p != port {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("failover: no replica took over the room's slot within 30 s")
		}
		pause(ctx, 100*time.Millisecond)
	}
	return c.rc.Restart(ctx, victim, c.out)
}
