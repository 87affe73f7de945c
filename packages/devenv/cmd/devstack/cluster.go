package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/rookery-chat/rookery/packages/devenv"
)

// Redis Cluster of `REDIS_MODE=cluster go tool task dev`: three masters
// with a replica each, node i on clusterBase+i with its cluster bus on
// clusterBusBase+i.
const (
	clusterMasters = 3
	clusterBase    = 57001
	clusterBusBase = 47001
)

// startDevCluster starts a fresh cluster (its layout is made at start, so
// nothing of an earlier run is kept) and supervises each node: one that
// exits is restarted from its nodes.conf and rejoins. It returns the
// cluster's URL.
func startDevCluster(ctx context.Context, add func(string, func(context.Context) (*devenv.Proc, error)) error) (string, error) {
	dir := filepath.Join(dataDir, "redis-cluster")
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var ports []int
	for i := range 2 * clusterMasters {
		ports = append(ports, clusterBase+i, clusterBusBase+i)
	}
	c, err := devenv.StartRedisCluster(ctx, dir, ports, clusterMasters, nil)
	if err != nil {
		return "", err
	}
	for i, n := range c.Nodes {
		first := true
		err := add(fmt.Sprintf("redis-%d", i+1), func(ctx context.Context) (*devenv.Proc, error) {
			if first {
				first = false
				return n.Proc, nil
			}
			r, err := devenv.StartRedis(ctx, filepath.Join(dir, "node-"+strconv.Itoa(n.Port)), n.Port,
				devenv.RedisOptions{ClusterPort: clusterBusBase + i})
			if err != nil {
				return nil, err
			}
			return r.Proc, nil
		})
		if err != nil {
			c.Kill()
			return "", err
		}
	}
	return c.URL(), nil
}
