package devenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisCluster is a local Redis Cluster: masters, each with one replica,
// on loopback ports.
type RedisCluster struct {
	Nodes    []*Redis // masters first, then their replicas in the same order
	BusPorts []int    // each node's cluster bus port
	Masters  int
}

// Addrs are the nodes' host:port addresses.
func (c *RedisCluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = fmt.Sprintf("127.0.0.1:%d", n.Port)
	}
	return out
}

// URL is the cluster's URL as bus.OpenRedis reads it in cluster mode:
// redis://first?addr=second&addr=third...
func (c *RedisCluster) URL() string {
	addrs := c.Addrs()
	return "redis://" + addrs[0] + "/0?addr=" + strings.Join(addrs[1:], "&addr=")
}

// Restart starts node i again on its port, directory and bus port; it
// rejoins the cluster from its nodes.conf (a killed master comes back as a
// replica of the one promoted meanwhile).
func (c *RedisCluster) Restart(ctx context.Context, i int, out io.Writer) error {
	n := c.Nodes[i]
	r, err := StartRedis(ctx, n.Dir, n.Port, RedisOptions{Out: out, ClusterPort: c.BusPorts[i]})
	if err != nil {
		return err
	}
	c.Nodes[i] = r
	return nil
}

// Kill stops every node at once.
func (c *RedisCluster) Kill() {
	for _, n := range c.Nodes {
		n.Kill()
	}
}

// StartRedisCluster starts masters*2 cluster-enabled redis-servers, node i
// on ports[2i] with its cluster bus on ports[2i+1] (masters first), gives each master an equal share of the
// 16,384 slots, makes the others their replicas, and waits until every node
// says the cluster is ok. Node timeout is short (2 s), so a failover after
// a master dies takes seconds, not the default 15.
func StartRedisCluster(ctx context.Context, dir string, ports []int, masters int, out io.Writer) (_ *RedisCluster, err error) {
	if len(ports) != 4*masters {
		return nil, fmt.Errorf("devenv: a cluster of %d masters needs %d ports", masters, 4*masters)
	}
	c := &RedisCluster{Masters: masters}
	defer func() {
		if err != nil {
			c.Kill()
		}
	}()
	for i := 0; i < len(ports); i += 2 {
		ndir := filepath.Join(dir, "node-"+strconv.Itoa(ports[i]))
		if err := os.MkdirAll(ndir, 0o755); err != nil {
			return nil, err
		}
		n, err := StartRedis(ctx, ndir, ports[i], RedisOptions{Out: out, ClusterPort: ports[i+1]})
		if err != nil {
			return nil, err
		}
		c.Nodes = append(c.Nodes, n)
		c.BusPorts = append(c.BusPorts, ports[i+1])
	}
	clients := make([]*redis.Client, len(c.Nodes))
	for i, a := range c.Addrs() {
		clients[i] = redis.NewClient(&redis.Options{Addr: a})
		defer clients[i].Close()
	}
	// Slots first, then the handshake: every node learns the others and
	// their slots through the gossip.
	per := 16384 / masters
	for i := 0; i < masters; i++ {
		lo, hi := i*per, (i+1)*per-1
		if i == masters-1 {
			hi = 16383
		}
		if err := clients[i].Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			return nil, fmt.Errorf("devenv: cluster slots: %w", err)
		}
	}
	for i := 1; i < len(clients); i++ {
		// The bus port is named: it is not the default port+10000.
		if err := clients[i].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", c.Nodes[0].Port, ports[1]).Err(); err != nil {
			return nil, fmt.Errorf("devenv: cluster meet: %w", err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ids := make([]string, masters)
	for i := 0; i < masters; i++ {
		id, err := clients[i].Do(wctx, "CLUSTER", "MYID").Text()
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	for i := masters; i < len(clients); i++ {
		master := ids[i-masters]
		if err := poll(wctx, func() error {
			// The replica must know its master before it can follow it.
			return clients[i].Do(wctx, "CLUSTER", "REPLICATE", master).Err()
		}); err != nil {
			return nil, fmt.Errorf("devenv: cluster replicate: %w", err)
		}
	}
	for _, cl := range clients {
		if err := poll(wctx, func() error {
			info, err := cl.ClusterInfo(wctx).Result()
			if err != nil {
				return err
			}
			// Every node must know every other one and see each master
			// serving slots: "ok" alone can come while gossip has not
			// reached a node yet, which then refuses commands naming
			// the nodes it has not heard of (a slot migration's).
			for _, want := range []string{"cluster_state:ok", fmt.Sprintf("cluster_known_nodes:%d\r", len(clients)), fmt.Sprintf("cluster_size:%d\r", masters)} {
				if !strings.Contains(info, want) {
					return fmt.Errorf("cluster not settled yet: no %q", strings.TrimSpace(want))
				}
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("devenv: cluster never became ok: %w", err)
		}
	}
	return c, nil
}

// poll calls fn until it succeeds or ctx ends.
func poll(ctx context.Context, fn func() error) error {
	for {
		err := fn()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
